"""The subscribers context: a subscriber's 139 mailbox, its settings, and alias claims."""
