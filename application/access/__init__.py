"""Access context: staff accounts, sessions and log-in."""
