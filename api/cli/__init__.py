"""The `spoa` command line: parses, calls the composition root and the application, prints."""
