"""History context: platform record batches (ingest) and their queries."""
