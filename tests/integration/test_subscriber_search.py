"""Finding a customer by any handle, from the subscribers read model in PostgreSQL: each
handle, province scoping (another province's alias is never found), the other filters, pages
in number order, equality with a brute-force search over the aggregates, read your writes, and
a rebuild that equals the live read model."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.authz import Principal
from application.subscribers.search import SubscriberFilter, SubscriberListing
from domain.shared import DomainError, PermissionDeniedError, ValidationError
from domain.subscribers.subscriber import Subscriber, subscriber_id_for
from infra.bootstrap import Container
from tests.helpers import seed_accounts
from tests.subscriber_helpers import PRINCIPALS

# (msisdn, province, alias): aliases share starts across provinces on purpose.
PEOPLE = (
    ("13800138000", "GD", "alice"),
    ("13800138001", "GD", "alicia.w"),
    ("13800238000", "BJ", "alina"),  # a BJ alias starting like GD's
    ("13900139000", "BJ", "bob_1"),
    ("13700137000", "GD", None),
    ("15000150000", "SH", "carol-x"),
)


@pytest.fixture
def people(container: Container) -> dict[str, Principal]:
    p = seed_accounts(container)
    for msisdn, province, alias in PEOPLE:
        container.subscribers.register(p["admin"], msisdn, province, "FREE")
        if alias is not None:
            container.subscribers.set_alias(p["admin"], msisdn, alias)
    container.subscribers.change_plan(p["admin"], "13800138001", "VIP_20")
    container.subscribers.freeze(p["admin"], "13700137000", "suspicious logins")
    container.engine.catch_up("subscribers")
    return p


def find(
    container: Container, who: Principal, limit: int = 50, after: str | None = None, **f: Any
) -> list[str]:
    found = container.subscriber_search.search(who, SubscriberFilter(**f), after, limit)
    return [s.msisdn for s in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("138", ["13800138000", "13800138001", "13800238000"]),  # number prefix, in order
        ("1380013", ["13800138000", "13800138001"]),
        ("+86 139 0013", ["13900139000"]),
        ("13800138001", ["13800138001"]),
        ("ali", ["13800138000", "13800138001", "13800238000"]),  # alias prefix
        ("ALICE", ["13800138000"]),  # an exact alias is its own prefix, any case
        ("alicia.", ["13800138001"]),
        ("bob_", ["13900139000"]),  # `_` is a character, not a wildcard
        ("carol-x", ["15000150000"]),
        ("alice@139.com", ["13800138000"]),  # addresses find exactly that mailbox
        ("ali@139.com", []),
        ("13800138000@139.com", ["13800138000"]),
        ("1380099", []),
        ("zed", []),
    ],
)
def test_each_handle_finds_the_customer(
    container: Container, people: dict[str, Principal], text: str, expected: list[str]
) -> None:
    assert find(container, people["admin"], text=text) == expected


def test_a_province_agent_never_learns_of_another_provinces_customers(
    container: Container, people: dict[str, Principal]
) -> None:
    for who in ("gd.agent", "gd.viewer"):
        assert find(container, people[who], text="ali") == ["13800138000", "13800138001"]
        assert find(container, people[who], text="alina") == []  # BJ's alias: not found
        assert find(container, people[who], text="alina@139.com") == []
        assert find(container, people[who], text="13800238000") == []
        assert find(container, people[who]) == ["13700137000", "13800138000", "13800138001"]
        with pytest.raises(PermissionDeniedError):
            find(container, people[who], province="BJ")
    assert find(container, people["bj.agent"], text="ali") == ["13800238000"]
    for who in ("second", "viewer", "auditor"):
        assert find(container, people[who], text="alina") == ["13800238000"]
    with pytest.raises(PermissionDeniedError):
        find(container, people["platform"], text="ali")


def test_the_other_filters(container: Container, people: dict[str, Principal]) -> None:
    admin = people["admin"]
    assert find(container, admin, province="BJ") == ["13800238000", "13900139000"]
    assert find(container, admin, status="FROZEN") == ["13700137000"]
    assert find(container, admin, plan_code="VIP_20") == ["13800138001"]
    assert find(container, admin, text="138", province="GD", plan_code="FREE") == ["13800138000"]
    with pytest.raises(DomainError) as raised:
        find(container, admin, plan_code="GOLD")
    assert raised.value.code == "UNKNOWN_PLAN"
    with pytest.raises(ValidationError):
        find(container, admin, text="13")


def test_pages_follow_the_numbers(container: Container, people: dict[str, Principal]) -> None:
    everyone = find(container, people["admin"])
    assert everyone == sorted(m for m, _, _ in PEOPLE)
    seen: list[str] = []
    after = None
    while page := find(container, people["admin"], limit=2, after=after):
        seen.extend(page)
        after = page[-1]
    assert seen == everyone


def test_listings_equal_the_aggregates(container: Container, people: dict[str, Principal]) -> None:
    found = container.subscriber_search.search(people["admin"], SubscriberFilter(), None, 50)
    for listing in found:
        aggregate: Subscriber = container.core.repository.get(subscriber_id_for(listing.msisdn))
        for name in SubscriberListing.__dataclass_fields__:
            assert getattr(listing, name) == getattr(aggregate, name), name
        assert (listing.mailbox, listing.plan) == (aggregate.mailbox, aggregate.plan)


def test_a_released_alias_is_no_longer_found(
    container: Container, people: dict[str, Principal]
) -> None:
    container.subscribers.set_alias(people["admin"], "13800138000", "alice.new")
    container.subscribers.deregister(people["admin"], "13900139000")
    container.engine.catch_up("subscribers")
    assert find(container, people["admin"], text="alice") == ["13800138000"]
    assert find(container, people["admin"], text="alice@139.com") == []
    assert find(container, people["admin"], text="bob") == []
    assert find(container, people["admin"], status="DEREGISTERED") == ["13900139000"]


def test_rebuild_equals_live(container: Container, people: dict[str, Principal]) -> None:
    before = container.subscriber_search.search(people["admin"], SubscriberFilter(), None, 50)
    container.rebuilds.rebuild("subscribers")
    after = container.subscriber_search.search(people["admin"], SubscriberFilter(), None, 50)
    assert after == before
    assert find(container, people["gd.agent"], text="ali") == ["13800138000", "13800138001"]


def test_consistent_with_waits_for_the_read_model(container: Container) -> None:
    p = seed_accounts(container)
    runner = container.start_projections()
    try:
        container.subscribers.register(p["admin"], "18800188000", "GD", "FREE")
        position = container.subscribers.set_alias(p["admin"], "18800188000", "newcomer").position
        wanted = SubscriberFilter(text="newcomer@139.com")
        service = container.subscriber_search
        asyncio.run(service.wait_for_search(p["gd.agent"], wanted, position))
        assert find(container, p["gd.agent"], text="newcomer@139.com") == ["18800188000"]
    finally:
        runner.stop()
        container.runner = None


_batches = itertools.count()
ALIASES = ["ab", "abc", "abd", "ab.c", "ab_c", "b12", "ba"]
TEXTS = ["13", "135", "1350", "abc", "ab.", "ab_", "ba", "b1", "ABD"]


@settings(max_examples=10)
@given(
    people=st.lists(
        st.tuples(st.sampled_from(["GD", "BJ"]), st.one_of(st.none(), st.sampled_from(ALIASES))),
        min_size=1,
        max_size=8,
    ),
    texts=st.lists(st.sampled_from(TEXTS), max_size=4),
)
def test_search_equals_a_brute_force_search(
    container: Container, people: list[tuple[str, str | None]], texts: list[str]
) -> None:
    """Over random customers (each example adds its own): every search equals filtering the
    aggregates by hand, for an unscoped reader and for a GD agent."""
    batch = next(_batches)
    for i, (province, alias) in enumerate(people):
        msisdn = f"135{batch:04d}{i:04d}"
        container.subscribers.register(ADMIN_CALLER, msisdn, province, "FREE")
        mine = None if alias is None else f"{alias}x{batch}"
        try:
            if mine is not None:
                container.subscribers.set_alias(ADMIN_CALLER, msisdn, mine)
        except DomainError as exc:
            assert exc.code == "ALIAS_TAKEN"  # the same alias drawn twice in one example
    container.engine.catch_up("subscribers")
    everyone = brute_force_everyone(container)
    for text in [f"135{batch:04d}", *texts]:
        for who, scope in ((ADMIN_CALLER, None), (GD_CALLER, "GD")):
            if len(text) < 3:
                with pytest.raises(ValidationError):
                    find(container, who, text=text)
                continue
            expected = [m for m, p, a in everyone if scope in (None, p) and matches(text, m, a)]
            assert find(container, who, limit=500, text=text) == expected, (scope, text)


ADMIN_CALLER = PRINCIPALS["admin"]
GD_CALLER = PRINCIPALS["gd.agent"]


def brute_force_everyone(container: Container) -> list[tuple[str, str, str | None]]:
    """(msisdn, province, alias) of every subscriber, from the aggregates, in number order."""
    out = []
    for r in container.core_log.feed(0, 1_000_000, [Subscriber.MailboxRegistered.TOPIC]):
        s: Subscriber = container.core.repository.get(r.event.originator_id)
        out.append((s.msisdn, s.province, s.alias))
    return sorted(out)


def matches(text: str, msisdn: str, alias: str | None) -> bool:
    if text.isdigit():
        return msisdn.startswith(text)
    return alias is not None and alias.startswith(text.lower())
