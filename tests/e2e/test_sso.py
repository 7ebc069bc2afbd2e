"""Single sign-on from the SPOA portal: POST /sso/spoa with a portal-signed ticket."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from domain.access.account import account_id_for
from tests.conftest import SSO_SECRET
from tests.e2e.access_world import World, open_world
from tests.helpers import error_codes

ISSUER, AUDIENCE = "spoa-portal", "spoa-139mail"


@pytest.fixture(scope="module")
def world(pg_server_url: str, template_db: str) -> Iterator[World]:
    with open_world(pg_server_url, template_db) as w:
        yield w


@pytest.fixture(autouse=True)
def _no_failed_logins_remembered(world: World) -> None:
    world.forget_failed_logins()


def ticket(
    subject: str = "viewer",
    *,
    key: str = SSO_SECRET,
    algorithm: str = "HS256",
    lifetime: int = 30,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    for name in drop:
        body.pop(name)
    return jwt.encode(body, key, algorithm=algorithm)


def exchange(world: World, value: str, as_json: bool = False) -> Any:
    if as_json:
        return world.client.post("/sso/spoa", json={"ticket": value})
    return world.client.post("/sso/spoa", data={"ticket": value})


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_a_portal_ticket_buys_a_session(world: World, as_json: bool) -> None:
    before = world.head()
    response = exchange(world, ticket("gd.agent"), as_json)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["account"] == {
        "id": str(account_id_for("gd.agent")),
        "username": "gd.agent",
        "role": "PROVINCE_AGENT",
        "province": "GD",
    }
    me = world.gql("{ me { username lastLoginAt } }", token=body["token"])
    assert me["data"]["me"]["username"] == "gd.agent"
    # The login is recorded like any other, with its channel.
    (entry,) = world.container.core_log.feed(before, 10)
    assert type(entry.event).__name__ == "LoginSucceeded" and entry.event.channel == "SSO"


def test_the_username_claim_wins_over_sub(world: World) -> None:
    response = exchange(world, ticket("portal-user-42", username="auditor"))
    assert response.json()["account"]["username"] == "auditor"


def test_a_replayed_ticket_is_refused(world: World) -> None:
    once = ticket("viewer")
    assert exchange(world, once).status_code == 200
    before = world.head()
    again = exchange(world, once)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "SSO_REFUSED"
    assert world.head() == before


def test_a_ticket_within_the_allowed_lifetime_is_accepted(world: World) -> None:
    lifetime = world.container.settings.sso_max_lifetime_seconds
    assert exchange(world, ticket(lifetime=lifetime)).status_code == 200


def hs512_ticket() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the short test key is the point: it must not verify
        return ticket(algorithm="HS512")


def disabled_user(world: World) -> str:
    username, _ = world.new_account("gone")
    world.container.access.disable(world.admin, account_id_for(username), "left")
    return username


REFUSED = {
    "exp too far ahead": lambda w: ticket(
        lifetime=w.container.settings.sso_max_lifetime_seconds + 60
    ),
    "an hour ahead": lambda w: ticket(lifetime=3600),
    "expired": lambda w: ticket(lifetime=-10),
    "wrong audience": lambda w: ticket(aud="someone-else"),
    "wrong issuer": lambda w: ticket(iss="evil-portal"),
    "wrong signature": lambda w: ticket(key="not-the-portal-secret-0123456789abcdef"),
    "alg none": lambda w: ticket(algorithm="none", key=""),
    "other algorithm": lambda w: hs512_ticket(),
    "no jti": lambda w: ticket(drop=("jti",)),
    "no exp": lambda w: ticket(drop=("exp",)),
    "no audience": lambda w: ticket(drop=("aud",)),
    "unknown username": lambda w: ticket("nobody.here"),
    "disabled username": lambda w: ticket(disabled_user(w)),
    "not a jwt": lambda w: "definitely.not.a-jwt",
    "session token instead": lambda w: w.gql.tokens["viewer"],
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_tickets_are_refused_and_change_nothing(world: World, case: str) -> None:
    value = REFUSED[case](world)
    before = world.head()
    response = exchange(world, value)
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"]["code"] == "SSO_REFUSED"
    assert "token" not in body
    assert world.head() == before, "a refused ticket stored events (no auto-provisioning)"


def test_refused_unknown_user_is_not_provisioned(world: World) -> None:
    exchange(world, ticket("brand.new.person"))
    world.catch_up()
    result = world.gql("{ accounts(first: 500) { nodes { username } } }", as_user="admin")
    assert "brand.new.person" not in {n["username"] for n in result["data"]["accounts"]["nodes"]}


@pytest.mark.parametrize("body", [{}, {"ticket": ""}, {"ticket": 42}])
def test_a_missing_ticket_is_bad_input(world: World, body: dict[str, Any]) -> None:
    response = world.client.post("/sso/spoa", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"


def test_an_sso_session_is_revoked_like_any_other(world: World) -> None:
    username, account_id = world.new_account("sso")
    token = exchange(world, ticket(username)).json()["token"]
    assert world.gql("{ me { username } }", token=token)["data"]["me"]["username"] == username
    world.container.access.disable(world.admin, account_id_for(username), None)
    assert error_codes(world.gql("{ me { username } }", token=token)) == ["UNAUTHENTICATED"]
    assert account_id
