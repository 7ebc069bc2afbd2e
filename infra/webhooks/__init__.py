"""Adapters of the webhooks context: secret cipher, signer, HTTP transport, delivery queue,
metrics, and the thread the dispatcher's event loop runs on."""
