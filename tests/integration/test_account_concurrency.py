"""Account rules hold under concurrent commands on PostgreSQL (optimistic concurrency)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from application.access.service import principal_of
from domain.access.account import ROSTER_ID, account_id_for
from domain.access.permissions import Role
from domain.shared import DomainError
from infra.bootstrap import Container

PASSWORD = "a-good-password-1"


def race(*commands: Callable[[], Any]) -> list[str]:
    """Run the commands at the same moment; each outcome is "ok" or its error code."""
    barrier = threading.Barrier(len(commands))
    outcomes: list[str] = [""] * len(commands)

    def run(i: int, command: Callable[[], Any]) -> None:
        barrier.wait(timeout=10)
        try:
            command()
            outcomes[i] = "ok"
        except DomainError as exc:
            outcomes[i] = exc.code

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(commands)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def create_admin(container: Container, username: str) -> None:
    container.access.create_account(
        None,
        username=username,
        display_name=username,
        role=Role.SUPER_ADMIN,
        province=None,
        initial_password=PASSWORD,
    )


def test_two_admins_disabling_each_other_at_once_leave_one(container: Container) -> None:
    create_admin(container, "alpha")
    create_admin(container, "beta")
    access = container.access
    alpha, beta = (account_id_for(u) for u in ("alpha", "beta"))
    for _ in range(4):
        p_alpha = principal_of(container.core.repository.get(alpha))
        p_beta = principal_of(container.core.repository.get(beta))
        outcomes = race(
            lambda p=p_alpha: access.disable(p, beta, None),
            lambda p=p_beta: access.disable(p, alpha, None),
        )
        assert sorted(outcomes) == ["LAST_SUPER_ADMIN", "ok"]
        enabled = [a for a in (alpha, beta) if container.core.repository.get(a).enabled]
        assert len(enabled) == 1
        roster = container.core.repository.get(ROSTER_ID)
        assert roster.members == [str(enabled[0])]
        # Bring the other one back for the next round.
        (disabled,) = {alpha, beta} - set(enabled)
        access.enable(principal_of(container.core.repository.get(enabled[0])), disabled)


def test_demotion_races_keep_one_super_admin(container: Container) -> None:
    create_admin(container, "alpha")
    create_admin(container, "beta")
    access = container.access
    alpha, beta = account_id_for("alpha"), account_id_for("beta")
    operator = principal_of(container.core.repository.get(alpha))
    outcomes = race(
        lambda: access.change_role(operator, alpha, Role.AUDITOR, None, None),
        lambda: access.change_role(operator, beta, Role.VIEWER, None, None),
    )
    assert sorted(outcomes) == ["LAST_SUPER_ADMIN", "ok"]
    roles = {container.core.repository.get(a).role for a in (alpha, beta)}
    assert Role.SUPER_ADMIN in roles


def test_the_same_username_created_twice_at_once_exists_once(container: Container) -> None:
    def create() -> None:
        container.access.create_account(
            None,
            username="twin",
            display_name="Twin",
            role=Role.VIEWER,
            province=None,
            initial_password=PASSWORD,
        )

    assert sorted(race(create, create, create)) == ["USERNAME_TAKEN", "USERNAME_TAKEN", "ok"]
    assert [
        r.event.originator_version for r in container.core_log.stream(account_id_for("twin"), 0, 10)
    ] == [1]


def test_concurrent_logins_all_count(container: Container) -> None:
    container.access.create_account(
        None,
        username="busy",
        display_name="Busy",
        role=Role.VIEWER,
        province=None,
        initial_password=PASSWORD,
    )
    # From four addresses: one address's logins for one name are taken one at a time.
    outcomes = race(
        *[
            lambda i=i: container.access.login("busy", PASSWORD, None, f"192.0.2.{i}")
            for i in range(4)
        ]
    )
    assert outcomes == ["ok"] * 4
    assert container.core.repository.get(account_id_for("busy")).version == 5
