"""Audit context: the change log of both stores, state as of a time, checkpoints."""
