"""GraphQL of the history context: platform records, usage counts and points."""
