"""GraphQL of the subscribers context: the mailbox, proxy settings and its changes."""
