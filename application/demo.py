"""Demo data for local use and trials: accounts for every role (later contexts add theirs)."""

from __future__ import annotations

from dataclasses import dataclass

from application.access import AccessService, UsernameTakenError
from domain.access.permissions import Role


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    province: str | None
    password: str


DEMO_ACCOUNTS = [
    DemoAccount("admin", "演示管理员 Demo Admin", Role.SUPER_ADMIN, None, "admin-demo-pass"),
    DemoAccount("vendor", "彩讯二线 Second Line", Role.SECOND_LINE_AGENT, None, "vendor-demo-pass"),
    DemoAccount("gd.agent", "广东一线 GD Agent", Role.PROVINCE_AGENT, "GD", "gd-agent-demo-pass"),
    DemoAccount("bj.agent", "北京一线 BJ Agent", Role.PROVINCE_AGENT, "BJ", "bj-agent-demo-pass"),
    DemoAccount("viewer", "普通用户 Viewer", Role.VIEWER, None, "viewer-demo-pass"),
    DemoAccount("gd.viewer", "广东查询 GD Viewer", Role.VIEWER, "GD", "gd-viewer-demo-pass"),
    DemoAccount("auditor", "审计员 Auditor", Role.AUDITOR, None, "auditor-demo-pass"),
    DemoAccount("platform", "邮箱平台 Integration", Role.INTEGRATION, None, "platform-demo-pass"),
]


def load_demo_accounts(access: AccessService) -> list[tuple[DemoAccount, bool]]:
    """Create the demo accounts; returns each with whether it was created now."""
    results = []
    for demo in DEMO_ACCOUNTS:
        try:
            access.create_account(
                None,
                username=demo.username,
                display_name=demo.display_name,
                role=demo.role,
                province=demo.province,
                initial_password=demo.password,
            )
            results.append((demo, True))
        except UsernameTakenError:
            results.append((demo, False))
    return results
