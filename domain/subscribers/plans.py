"""The plan catalog: every plan a mailbox can be on, in exactly one place."""

from __future__ import annotations

from dataclasses import dataclass

from domain.shared import DomainError


class UnknownPlanError(DomainError):
    code = "UNKNOWN_PLAN"


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    monthly_fee_fen: int


# Order is the order `plans` lists them in. A plan code, once used, is never reused for a
# different plan: stored events refer to plans by code.
PLANS: tuple[Plan, ...] = (
    Plan("FREE", "免费版 Free", 0),
    Plan("PLUS_5", "5元版 Plus", 500),
    Plan("VIP_20", "20元版 VIP", 2000),
)
_BY_CODE = {plan.code: plan for plan in PLANS}
DEFAULT_PLAN = "FREE"


def plan_for(code: str, field: str = "planCode") -> Plan:
    try:
        return _BY_CODE[code]
    except KeyError:
        known = ", ".join(_BY_CODE)
        raise UnknownPlanError(f"unknown plan {code!r}; one of {known}", field=[field]) from None


def is_plan(code: str) -> bool:
    return code in _BY_CODE
