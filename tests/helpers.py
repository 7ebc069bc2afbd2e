"""Test helpers: accounts for every role, GraphQL over HTTP."""

from __future__ import annotations

from typing import Any

from application.access.service import principal_of
from application.authz import Principal
from domain.access.permissions import Role
from infra.bootstrap import Container

PASSWORD = "a-good-password-1"

ROLE_ACCOUNTS: dict[str, tuple[Role, str | None]] = {
    "admin": (Role.SUPER_ADMIN, None),
    "second": (Role.SECOND_LINE_AGENT, None),
    "gd.agent": (Role.PROVINCE_AGENT, "GD"),
    "bj.agent": (Role.PROVINCE_AGENT, "BJ"),
    "viewer": (Role.VIEWER, None),
    "gd.viewer": (Role.VIEWER, "GD"),
    "auditor": (Role.AUDITOR, None),
    "platform": (Role.INTEGRATION, None),
}


def seed_accounts(container: Container) -> dict[str, Principal]:
    """One account per role (two province agents, two viewers); returns their principals."""
    principals = {}
    for username, (role, province) in ROLE_ACCOUNTS.items():
        result = container.access.create_account(
            None,
            username=username,
            display_name=username.title(),
            role=role,
            province=province,
            initial_password=PASSWORD,
        )
        principals[username] = principal_of(result.account)
    return principals


class GraphQL:
    """Posts real GraphQL documents over HTTP to the app under test."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def login(self, username: str, password: str = PASSWORD) -> str:
        data = self(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) {"
            " session { token } userErrors { code message } } }",
            {"u": username, "p": password},
        )
        payload = data["data"]["login"]
        assert payload["userErrors"] == [], payload
        token: str = payload["session"]["token"]
        self.tokens[username] = token
        return token

    def __call__(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        as_user: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        headers = {}
        if as_user is not None:
            token = self.tokens.get(as_user) or self.login(as_user)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.post(
            "/graphql", json={"query": document, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400, 413), response.text
        result: dict[str, Any] = response.json()
        return result


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]
