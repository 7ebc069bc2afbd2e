"""GraphQL of the support desk: tickets and announcements."""
