"""Support desk: tickets between first and second line, and incident announcements."""
