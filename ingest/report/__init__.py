"""Outputs of the archive for people: ledgers (CSV, xlsx), the merged print PDF, counts and sums."""
