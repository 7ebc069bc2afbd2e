"""GraphiQL is served from the package (no CDN): in dev mode, and outside it with
SPOA_GRAPHIQL=1; otherwise GET /graphql serves no page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.bootstrap import Container
from tests.conftest import make_settings


@pytest.fixture
def app_with(database_url: str) -> Iterator[object]:
    containers: list[Container] = []

    def build(**overrides: object) -> TestClient:
        container = Container(make_settings(database_url, **overrides), database_url)
        containers.append(container)
        return TestClient(create_app(container, run_projections=False))

    yield build
    for container in containers:
        container.close()


def test_the_page_and_its_assets_come_from_this_server(client: TestClient) -> None:
    page = client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/graphiql/") for s in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        kind = "text/css" if source.endswith(".css") else "javascript"
        assert kind in asset.headers["content-type"]
    assert "subscriptionUrl" in client.get("/graphiql/spoa-graphiql.js").text
    assert "MIT License" in client.get("/graphiql/LICENSE.graphiql").text


def test_outside_dev_mode_only_when_asked(app_with) -> None:  # type: ignore[no-untyped-def]
    production = {"dev_mode": False, "secret_key": "a-production-secret-0123456789"}
    with app_with(**production) as off:
        assert "SPOA GraphiQL" not in off.get("/graphql", headers={"accept": "text/html"}).text
        assert off.get("/graphiql/graphiql.min.js").status_code == 404
    with app_with(**production, graphiql=True) as on:
        assert "SPOA GraphiQL" in on.get("/graphql", headers={"accept": "text/html"}).text
