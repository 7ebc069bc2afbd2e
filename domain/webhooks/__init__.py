"""The webhooks context: endpoints that receive the core log's events, and delivery rules."""
