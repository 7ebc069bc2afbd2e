"""HTTP and CLI front doors: parse, call the application layer, map results."""
