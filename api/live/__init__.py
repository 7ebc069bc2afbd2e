"""Live updates: GraphQL subscriptions over WebSocket (graphql-transport-ws).

`socket` speaks the protocol for one WebSocket; `hub` is the one per process that follows the
core log (`infra.live_feed`, woken by the projections' notifications), decides who sees each
change (`channels`) and executes each update's selection once per document and caller scope.
"""
