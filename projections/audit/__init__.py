"""Audit read models: the hash chain over both stores and its checkpoints."""
