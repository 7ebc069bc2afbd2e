"""Access context: roles, provinces, permissions and staff accounts."""
