"""Where invoices come from: mailboxes and watched folders (later issues)."""
