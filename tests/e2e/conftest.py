"""End-to-end fixtures: the real FastAPI app over HTTP (TestClient), projections running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.bootstrap import Container
from tests.helpers import GraphQL, seed_accounts


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    app = create_app(container, run_projections=True)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def gql(client: TestClient, container: Container) -> GraphQL:
    """A GraphQL caller with one account per role already created (see tests.helpers)."""
    seed_accounts(container)
    return GraphQL(client)
