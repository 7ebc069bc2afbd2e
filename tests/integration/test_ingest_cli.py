"""`spoa ingest FILE`: batches with a progress bar over the file's bytes, errors named by
their line in the file (blank lines included), and a second run that stores nothing twice;
records another file brought already are counted, not stored."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from application.authz import Principal
from domain.history.records import RecordKind
from infra.bootstrap import Container
from tests.helpers import seed_accounts
from tests.history_helpers import record


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SPOA_DATABASE_URL", database_url)
    monkeypatch.setenv("SPOA_SECRET_KEY", "cli-test-secret-0123456789abcdef")
    monkeypatch.setenv("SPOA_LOG_JSON", "false")
    monkeypatch.setenv("SPOA_DB_POOL_SIZE", "1")
    monkeypatch.setenv("COLUMNS", "160")  # room for every column of the progress bar
    return CliRunner()


def write_ndjson(path: Path, lines: list[Any]) -> Path:
    """`None` writes a blank line (some with stray spaces, as real feeds have)."""
    text = [
        ("   " if n % 2 else "") if item is None else json.dumps(item)
        for n, item in enumerate(lines)
    ]
    path.write_text("\n".join(text) + "\n")
    return path


def ingest(runner: CliRunner, path: Path | str, *extra: str, **kw: Any) -> Any:
    args = ["ingest", str(path), "--kind", "sms", "--source", "sms-gw", *extra]
    return runner.invoke(app, args, **kw)


def test_a_rejected_batch_names_the_file_lines_of_its_errors_blank_lines_included(
    container: Container, cli_env: CliRunner, tmp_path: Path
) -> None:
    sms = RecordKind.SMS
    path = write_ndjson(
        tmp_path / "sms.ndjson",
        [
            None,  # line 1
            record(sms, 0),  # 2
            None,  # 3
            None,  # 4
            record(sms, 1),  # 5  (end of batch 1)
            None,  # 6
            record(sms, 2),  # 7
            None,  # 8
            record(sms, 3, feeFen=-5),  # 9  (end of batch 2)
            record(sms, 4),  # 10
            record(sms, 4),  # 11 (repeated in batch 3)
            None,  # 12
        ],
    )
    result = ingest(cli_env, path, "--batch-size", "2")
    assert result.exit_code == 1, result.output
    assert "line 9: feeFen must be at least 0" in result.output
    assert "batch 2 (lines 6-9) rejected" in result.output
    assert "batch 3 (lines 10-11) rejected" in result.output
    assert "line 11: sourceRecordId is repeated within the batch" in result.output
    assert (
        "accepted 2 records; 0 duplicate records; 0 duplicate batches; 2 rejected batches"
        in result.output
    )
    assert container.feed_log.head() == 3  # batch 1 only: a header, its digest and one chunk


def test_a_second_run_answers_every_batch_duplicate(
    container: Container, cli_env: CliRunner, tmp_path: Path
) -> None:
    sms = RecordKind.SMS
    lines = [record(sms, n) for n in range(7)]
    path = write_ndjson(tmp_path / "sms.ndjson", [None, *lines[:3], None, None, *lines[3:], None])
    first = ingest(cli_env, path, "--batch-size", "3")
    assert first.exit_code == 0, first.output
    assert (
        "accepted 7 records; 0 duplicate records; 0 duplicate batches; 0 rejected batches"
        in first.output
    )
    head = container.feed_log.head()
    again = ingest(cli_env, path, "--batch-size", "3")
    assert again.exit_code == 0, again.output
    assert (
        "accepted 0 records; 7 duplicate records; 3 duplicate batches; 0 rejected batches"
        in again.output
    )
    assert container.feed_log.head() == head


def test_batch_ids_are_the_file_name_and_a_digest_of_the_batch_s_records(
    container: Container, cli_env: CliRunner, tmp_path: Path
) -> None:
    # As they always were (blank lines aside), so files ingested before still answer duplicate.
    platform: Principal = seed_accounts(container)["platform"]
    records = [record(RecordKind.SMS, n) for n in range(2)]
    path = write_ndjson(tmp_path / "sms.ndjson", [records[0], None, records[1]])
    digest = hashlib.sha256(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    container.history.ingest_records(
        platform,
        source="sms-gw",
        batch_id=f"sms.ndjson:{digest.hexdigest()[:24]}",
        kind=RecordKind.SMS,
        records=records,
    )
    result = ingest(cli_env, path)
    assert result.exit_code == 0, result.output
    assert (
        "accepted 0 records; 2 duplicate records; 1 duplicate batches; 0 rejected batches"
        in result.output
    )


def test_records_another_file_already_brought_are_reported_not_stored(
    container: Container, cli_env: CliRunner, tmp_path: Path
) -> None:
    sms = RecordKind.SMS
    first = write_ndjson(tmp_path / "monday.ndjson", [record(sms, n) for n in range(4)])
    assert ingest(cli_env, first).exit_code == 0
    head = container.feed_log.head()
    # The feed's next export repeats two of Monday's records (ids r2, r3).
    second = write_ndjson(tmp_path / "tuesday.ndjson", [record(sms, n) for n in range(2, 7)])
    result = ingest(cli_env, second, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert (
        "accepted 3 records; 2 duplicate records; 0 duplicate batches; 0 rejected batches"
        in result.output
    )
    assert container.feed_log.head() == head + 2 * 3  # two batches stored, the first skipped


def test_a_file_shows_a_progress_bar_over_its_bytes(
    container: Container, cli_env: CliRunner, tmp_path: Path
) -> None:
    records = [record(RecordKind.SMS, n) for n in range(5)]
    path = write_ndjson(tmp_path / "sms.ndjson", [*records, None, None])
    result = ingest(cli_env, path, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "ingesting SMS" in result.output
    assert "━" in result.output  # the bar
    assert "100%" in result.output
    assert "5 records" in result.output and "records/s" in result.output
    assert "0:00:00" in result.output  # time remaining, once done


def test_stdin_has_no_total_so_no_percentage(
    container: Container, cli_env: CliRunner, tmp_path: Path
) -> None:
    sms = RecordKind.SMS
    body = "\n".join(json.dumps(record(sms, n)) for n in range(3)) + "\n\n"
    result = ingest(cli_env, "-", input=body)
    assert result.exit_code == 0, result.output
    assert "ingesting SMS" in result.output
    assert "3 records" in result.output and "records/s" in result.output
    assert "%" not in result.output
    assert (
        "accepted 3 records; 0 duplicate records; 0 duplicate batches; 0 rejected batches"
        in result.output
    )


def test_a_missing_file_is_a_usage_error(cli_env: CliRunner, tmp_path: Path) -> None:
    result = ingest(cli_env, tmp_path / "nowhere.ndjson")
    assert result.exit_code == 2
    assert "cannot read" in result.output
