"""Reading invoices: PDF text layer by position, normalisation and validation."""
