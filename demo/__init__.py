"""Demo data and its loader, driven through the application's public services only."""
