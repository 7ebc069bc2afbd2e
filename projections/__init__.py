"""Read models: event handlers with their tables, and the runtime that feeds them."""
