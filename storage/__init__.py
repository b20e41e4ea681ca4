"""Everything that keeps invoices: database, archive tree, backups (built in later issues; never imports ingest)."""
