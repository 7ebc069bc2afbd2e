"""Operational queries: projection status for operators and auditors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from application.authz import Principal
from domain.access.permissions import Permission


class ProjectionStatusSource(Protocol):
    def status(self) -> Sequence[Any]: ...


class OperationsService:
    def __init__(self, projections: ProjectionStatusSource) -> None:
        self._projections = projections

    def projections(self, principal: Principal) -> list[Any]:
        principal.require(Permission.AUDIT_READ)
        return list(self._projections.status())
