"""Support-desk context: tickets between first and second line, announcements."""
