"""Subscribers context: the 139 mailbox, proxy settings and their queries."""
