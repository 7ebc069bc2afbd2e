"""Statistics read models: proxy-operation and complaint-ticket counts, answer times."""
