"""Audit context: every stream by its audit name, secret redaction and replay of a stream."""
