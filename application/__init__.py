"""Use cases: command handlers, authorization and query services. Imports domain only."""
