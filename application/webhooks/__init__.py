"""Webhooks: endpoints managed as events, the deliveries agents see, and the dispatcher."""
