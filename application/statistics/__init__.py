"""Statistics context: proxy-operation and complaint-ticket statistics."""
