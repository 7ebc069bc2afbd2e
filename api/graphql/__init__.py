"""The GraphQL schema of the contract, one module per bounded context."""
