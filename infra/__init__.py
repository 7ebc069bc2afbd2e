"""Infrastructure: settings, database, stores, security primitives, the composition root."""
