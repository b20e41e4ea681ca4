"""Everything that brings invoices in and reads them."""
