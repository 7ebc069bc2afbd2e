"""Signed anchors: `spoa audit keygen`, `spoa audit anchor` (the chain's head as one signed JSON
line), and `spoa audit verify --anchors FILE --public-key FILE`, which refuses a forged line
(naming it) and catches a rewrite of events and chain together (an edited event, then
`spoa projections rebuild audit --restart`) at the first anchor after it."""

from __future__ import annotations

import base64
import json
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from typer.testing import CliRunner

from api.cli.main import app
from infra.bootstrap import Container
from tests.audit_world import History
from tests.helpers import seed_accounts

PLAN = [
    ("account.create", 0, 0),
    ("subscriber.register", 0, 0),
    ("ticket.draft", 0, 1),
    ("faq.create", 0, 0),
    ("contact.add", 0, 0),
]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "anchor.key", tmp_path / "anchor.pub"
    result = CliRunner().invoke(
        app, ["audit", "keygen", "--private-key", str(private), "--public-key", str(public)]
    )
    assert result.exit_code == 0, result.output
    return private, public


@pytest.fixture
def cli(database_url: str, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SPOA_DATABASE_URL", database_url)
    monkeypatch.setenv("SPOA_SECRET_KEY", "cli-test-secret-0123456789abcdef")
    monkeypatch.setenv("SPOA_LOG_JSON", "false")
    monkeypatch.setenv("SPOA_DB_POOL_SIZE", "1")
    monkeypatch.setenv("SPOA_AUDIT_SIGNING_KEY", str(keys[0]))
    return CliRunner()


@pytest.fixture
def history(container: Container) -> History:
    history = History(container, seed_accounts(container)["admin"])
    history.play(PLAN)
    container.engine.catch_up("audit")
    return history


def run(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, list(args))


def public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    return key


def signed_bytes(anchor: dict[str, Any]) -> bytes:
    """The canonical JSON of the anchor's other three keys, as the issue defines it."""
    document = {k: anchor[k] for k in ("position", "chainHash", "at")}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def chain_head(container: Container) -> tuple[int, str]:
    with psycopg.connect(container.conninfo) as conn:
        row = conn.execute("SELECT position, link FROM rm.audit_chain_head").fetchone()
    assert row is not None
    return int(row[0]), bytes(row[1]).hex()


def test_keygen_writes_an_ed25519_pair_the_private_key_for_its_owner_only(
    keys: tuple[Path, Path],
) -> None:
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    secret = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(secret, Ed25519PrivateKey)
    assert secret.public_key().public_bytes_raw() == public_key(public).public_bytes_raw()
    before = private.read_bytes()
    again = CliRunner().invoke(
        app, ["audit", "keygen", "--private-key", str(private), "--public-key", str(public)]
    )
    assert again.exit_code == 2 and "exists already" in " ".join(again.output.split())
    assert private.read_bytes() == before


def test_anchor_prints_the_chain_head_signed(
    cli: CliRunner, history: History, keys: tuple[Path, Path]
) -> None:
    container = history.container
    head = chain_head(container)
    assert head[0] == container.core_log.head()  # the head, not a sealed checkpoint
    result = run(cli, "audit", "anchor")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    anchor = json.loads(lines[0])
    assert list(anchor) == ["position", "chainHash", "at", "signature"]
    assert (anchor["position"], anchor["chainHash"]) == head
    assert datetime.fromisoformat(anchor["at"]).tzinfo is not None
    public_key(keys[1]).verify(base64.b64decode(anchor["signature"]), signed_bytes(anchor))


def test_anchor_appends_to_a_file_and_verify_accepts_good_anchors(
    cli: CliRunner, history: History, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    anchors = tmp_path / "kept" / "anchors.ndjson"
    assert run(cli, "audit", "anchor", "--out", str(anchors)).exit_code == 0
    history.play([("contact.add", 0, 1), ("faq.create", 0, 2)])
    history.container.engine.catch_up("audit")
    assert run(cli, "audit", "anchor", "--out", str(anchors)).exit_code == 0
    lines = anchors.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["position"] < json.loads(lines[1])["position"]
    result = run(
        cli, "audit", "verify", "--quiet", "--anchors", str(anchors), "--public-key", str(keys[1])
    )
    assert result.exit_code == 0, result.output
    assert "intact" in result.stdout and "2 anchors" in result.stdout


def test_anchor_needs_the_signing_key(
    cli: CliRunner, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPOA_AUDIT_SIGNING_KEY")
    result = run(cli, "audit", "anchor")
    assert result.exit_code == 2 and "SPOA_AUDIT_SIGNING_KEY" in result.output


def forge(line: str, **changes: Any) -> str:
    anchor = json.loads(line)
    anchor.update(changes)
    return json.dumps(anchor)


@pytest.mark.parametrize("forgery", ["hash", "signature", "other key", "unsigned"])
def test_a_forged_anchor_line_is_refused_by_its_number(
    cli: CliRunner, history: History, keys: tuple[Path, Path], tmp_path: Path, forgery: str
) -> None:
    good = run(cli, "audit", "anchor").stdout.strip()
    anchor = json.loads(good)
    if forgery == "hash":
        forged = forge(good, chainHash="0" * 64)
    elif forgery == "signature":
        signature = bytearray(base64.b64decode(anchor["signature"]))
        signature[0] ^= 1
        forged = forge(good, signature=base64.b64encode(signature).decode())
    elif forgery == "other key":
        signature = Ed25519PrivateKey.generate().sign(signed_bytes(anchor))
        forged = forge(good, signature=base64.b64encode(signature).decode())
    else:
        forged = json.dumps({k: anchor[k] for k in ("position", "chainHash", "at")})
    anchors = tmp_path / "anchors.ndjson"
    anchors.write_text(f"{good}\n\n{forged}\n")  # the forged one is line 3
    result = run(
        cli, "audit", "verify", "--quiet", "--anchors", str(anchors), "--public-key", str(keys[1])
    )
    assert result.exit_code == 1, result.output
    assert "REFUSED: anchor line 3" in result.stdout
    assert "anchor line 1" not in result.stdout
    assert "intact" in result.stdout and "1 anchors" in result.stdout  # line 1 still checked
    # Without --public-key, an anchor file is read as before (signatures unread).
    unsigned = tmp_path / "unsigned.ndjson"
    unsigned.write_text(json.dumps({k: anchor[k] for k in ("position", "chainHash")}) + "\n")
    assert run(cli, "audit", "verify", "--quiet", "--anchors", str(unsigned)).exit_code == 0


def tamper_first_event_after(container: Container, position: int) -> int:
    """Edit (as the schema owner could) the first event after `position` that records who
    did it; returns its position."""
    with psycopg.connect(container.conninfo, autocommit=True) as conn, conn.transaction():
        row = conn.execute(
            "SELECT min(notification_id) FROM core_events WHERE notification_id > %s"
            " AND position('\"meta\"' in convert_from(state, 'UTF8')) > 0",
            (position,),
        ).fetchone()
        assert row is not None and row[0] is not None
        conn.execute("ALTER TABLE core_events DISABLE TRIGGER core_events_append_only")
        conn.execute(
            "UPDATE core_events SET state = convert_to(replace(convert_from(state, 'UTF8'),"
            " '\"meta\"', '\"forged\":true,\"meta\"'), 'UTF8') WHERE notification_id = %s",
            (row[0],),
        )
        conn.execute("ALTER TABLE core_events ENABLE TRIGGER core_events_append_only")
    return int(row[0])


def test_an_edited_event_and_a_rebuilt_chain_are_caught_at_the_first_anchor_after_it(
    cli: CliRunner, history: History, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    container = history.container
    anchors = tmp_path / "anchors.ndjson"
    heads = []
    for more in ([("contact.add", 0, 1)], [("faq.create", 0, 1)], []):
        assert run(cli, "audit", "anchor", "--out", str(anchors)).exit_code == 0
        heads.append(chain_head(container)[0])
        history.play(more)
        container.engine.catch_up("audit")
    victim = tamper_first_event_after(container, heads[0])
    assert heads[0] < victim <= heads[1]
    rebuilt = run(cli, "projections", "rebuild", "audit", "--restart")
    assert rebuilt.exit_code == 0, rebuilt.output
    # The rewritten chain agrees with the edited events and with its own checkpoints...
    plain = run(cli, "audit", "verify", "--quiet")
    assert plain.exit_code == 0 and "intact" in plain.stdout
    # ...but not with the anchor kept outside after the edit.
    result = run(
        cli, "audit", "verify", "--quiet", "--anchors", str(anchors), "--public-key", str(keys[1])
    )
    assert result.exit_code == 1, result.output
    assert f"TAMPERED: first disagreement at position {heads[1]}" in result.stdout
    assert "anchor kept outside" in result.stdout


def test_anchoring_an_empty_chain_says_so(cli: CliRunner, container: Container) -> None:
    result = run(cli, "audit", "anchor")
    assert result.exit_code == 1 and "nothing to anchor" in result.output
