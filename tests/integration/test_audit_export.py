"""`spoa audit export | replay | verify`: NDJSON in position order with who, why and when and no
secrets, filters by store, range and stream, constant memory, offline replay, exit statuses."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from application.authz import Principal
from domain.history.records import RecordKind
from infra.audit_export import AuditExporter
from infra.bootstrap import Container
from tests.audit_world import History
from tests.helpers import seed_accounts
from tests.history_helpers import record

LINE_KEYS = {
    "position",
    "stream",
    "stream_type",
    "stream_id",
    "originator_id",
    "version",
    "type",
    "topic",
    "time",
    "recorded_at",
    "actor",
    "reason",
    "ticket_id",
    "correlation_id",
    "data",
    "stored",
}


@pytest.fixture
def world(container: Container) -> tuple[Container, Principal, History]:
    admin = seed_accounts(container)["admin"]
    history = History(container, admin)
    history.play(
        [
            ("subscriber.register", 0, 0),
            ("subscriber.password", 0, 2),
            ("subscriber.plan", 0, 1),
            ("account.create", 0, 0),
            ("account.reset", 0, 1),
            ("ticket.draft", 0, 0),
            ("subscriber.alias", 0, 1),
        ]
    )
    return container, admin, history


def export(container: Container, **options: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    container.audit_exporter.export(out, **options)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_export_is_every_event_in_position_order_with_who_why_and_no_secret(
    world: tuple[Container, Principal, History],
) -> None:
    container, _, history = world
    lines = export(container)
    assert [line["position"] for line in lines] == list(range(1, container.core_log.head() + 1))
    assert all(set(line) == LINE_KEYS for line in lines)
    text = json.dumps(lines)
    assert "$argon2" not in text
    msisdn = history.streams["subscriber"][0][0]
    subscriber = [line for line in lines if line["stream"] == f"Subscriber/{msisdn}"]
    assert [line["type"] for line in subscriber] == [
        "MailboxRegistered",
        "PasswordChanged",
        "PlanChanged",
        "AliasChanged",
    ]
    changed = subscriber[1]
    assert changed["data"]["password_hash"] == changed["stored"]["password_hash"] == "[REDACTED]"
    assert changed["actor"]["username"] == "admin" and changed["actor"]["role"] == "SUPER_ADMIN"
    assert subscriber[2]["reason"] == "customer asked 1"
    types = {line["stream_type"] for line in lines}
    assert {"Account", "SuperAdminRoster", "Subscriber", "AliasClaim", "Ticket"} <= types
    account = history.streams["account"][0][0]
    assert any(line["stream"] == f"Account/{account}" for line in lines)


def test_the_export_filters_by_stream_and_position_range(
    world: tuple[Container, Principal, History],
) -> None:
    container, _, history = world
    msisdn = history.streams["subscriber"][0][0]
    only = export(container, stream=f"Subscriber/{msisdn}")
    assert [line["version"] for line in only] == [1, 2, 3, 4]
    assert {line["stream_id"] for line in only} == {msisdn}
    window = export(container, from_position=3, to_position=6)
    assert [line["position"] for line in window] == [3, 4, 5, 6]
    inside = export(container, stream=f"Subscriber/{msisdn}", to_position=only[1]["position"])
    assert [line["version"] for line in inside] == [1, 2]


def test_the_feed_store_exports_platform_batches(
    world: tuple[Container, Principal, History],
) -> None:
    container, admin, _ = world
    result = container.history.ingest_records(
        admin, source="gw", batch_id="b1", kind=RecordKind.SMS, records=[record(RecordKind.SMS)]
    )
    lines = export(container, store="feed")
    assert [line["stream_type"] for line in lines] == ["PlatformBatch"] * len(lines)
    assert lines[-1]["position"] == result.position
    # Feed states are stored compressed; the export carries them as JSON, readable and replayable.
    assert lines[-1]["data"]["records"][0][0] == record(RecordKind.SMS)["msisdn"]
    assert lines[-1]["stored"]["records"] == lines[-1]["data"]["records"]
    stream = lines[0]["stream"]
    assert export(container, stream=stream) == [line for line in lines if line["stream"] == stream]


def _bulk_events(container: Container, count: int) -> None:
    with psycopg.connect(container.conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO core_events (originator_id, originator_version, topic, state)"
            " SELECT gen_random_uuid(), 1, 'spoa.knowledge:SupportContact.SupportContactAdded',"
            " convert_to(json_build_object('timestamp', json_build_object('_type_',"
            " 'datetime_iso', '_data_', '2026-01-01T00:00:00+00:00'), 'name', 'desk ' || g,"
            " 'notes', repeat('x', 200), 'meta', json_build_object('actor', null))::text, 'UTF8')"
            " FROM generate_series(1, %s) g",
            (count,),
        )


class CountingSink(io.TextIOBase):
    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)


def test_the_export_runs_in_constant_memory(container: Container) -> None:
    exporter = AuditExporter(container.conninfo, {"core": "core_events"}, page_size=250)

    def peak_for(events: int) -> int:
        sink = CountingSink()
        tracemalloc.start()
        try:
            exporter.export(sink, to_position=events)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert sink.lines == events
        return peak

    _bulk_events(container, 8_000)
    small, large = peak_for(1_000), peak_for(8_000)
    assert large < small * 1.5, (small, large)  # eight times the events, not the memory


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SPOA_DATABASE_URL", database_url)
    monkeypatch.setenv("SPOA_SECRET_KEY", "cli-test-secret-0123456789abcdef")
    monkeypatch.setenv("SPOA_LOG_JSON", "false")
    monkeypatch.setenv("SPOA_DB_POOL_SIZE", "1")  # the server's connections are shared
    return CliRunner()


def test_the_cli_exports_replays_offline_and_verifies(
    world: tuple[Container, Principal, History], cli_env: CliRunner, tmp_path: Path
) -> None:
    container, admin, history = world
    container.engine.catch_up("audit")
    exported = cli_env.invoke(app, ["audit", "export"])
    assert exported.exit_code == 0, exported.output
    lines = exported.stdout.splitlines()
    assert len(lines) == container.core_log.head()
    assert "exported" in exported.stderr and "$argon2" not in exported.stdout
    path = tmp_path / "export.ndjson"
    path.write_text(exported.stdout, encoding="utf-8")

    msisdn = history.streams["subscriber"][0][0]
    replayed = cli_env.invoke(
        app, ["audit", "replay", str(path), "--stream", f"Subscriber/{msisdn}"]
    )
    assert replayed.exit_code == 0, replayed.output
    live = container.as_of.state_as_of(admin, "Subscriber", msisdn, None)
    assert json.loads(replayed.stdout) == live
    assert live is not None and live["password_hash"] == "[REDACTED]"

    first = history.recorded[0]
    assert first.stream_type == "Subscriber"
    at_first = cli_env.invoke(
        app,
        [
            "audit",
            "replay",
            str(path),
            "--stream",
            f"Subscriber/{msisdn}",
            "--at",
            first.at.isoformat(),
        ],
    )
    assert at_first.exit_code == 0 and json.loads(at_first.stdout) == first.state
    before = cli_env.invoke(
        app,
        ["audit", "replay", str(path), "--stream", f"Subscriber/{msisdn}", "--at", "2000-01-01"],
    )
    assert before.exit_code == 1 and before.stdout.strip() == "null"

    verified = cli_env.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.startswith("intact:")


def test_the_cli_verify_exits_non_zero_at_the_first_disagreement(
    world: tuple[Container, Principal, History], cli_env: CliRunner, tmp_path: Path
) -> None:
    container, admin, _ = world
    container.engine.catch_up("audit")
    anchors = tmp_path / "anchors.json"
    kept = [
        {"position": c.position, "chainHash": c.chain_hash}
        for c in container.audit.checkpoints(admin, None, 10)
    ]
    anchors.write_text(json.dumps(kept))
    with psycopg.connect(container.conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute("ALTER TABLE core_events DISABLE TRIGGER core_events_append_only")
        conn.execute("DELETE FROM core_events WHERE notification_id = 4")
        conn.execute("ALTER TABLE core_events ENABLE TRIGGER core_events_append_only")
    result = cli_env.invoke(app, ["audit", "verify", "--anchors", str(anchors)])
    assert result.exit_code == 1
    assert "TAMPERED: first disagreement at position 4" in result.stdout


def test_replaying_a_partial_export_says_what_is_missing(
    world: tuple[Container, Principal, History], cli_env: CliRunner, tmp_path: Path
) -> None:
    container, _, history = world
    msisdn = history.streams["subscriber"][0][0]
    start = export(container, stream=f"Subscriber/{msisdn}")[1]["position"]
    path = tmp_path / "partial.ndjson"
    path.write_text(
        "".join(json.dumps(line) + "\n" for line in export(container, from_position=start))
    )
    result = cli_env.invoke(app, ["audit", "replay", str(path), "--stream", f"Subscriber/{msisdn}"])
    assert result.exit_code == 2
    assert "expected Subscriber version 1" in result.stderr
    unknown = cli_env.invoke(app, ["audit", "export", "--stream", "Nonsense/1"])
    assert unknown.exit_code == 2 and "unknown stream type" in unknown.stderr
