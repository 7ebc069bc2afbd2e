"""GraphQL of the webhooks context: endpoints, deliveries, redelivery."""
