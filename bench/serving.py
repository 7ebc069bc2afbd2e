"""What the HTTP benchmarks share: a free port, `spoa serve` in a subprocess, log-in, a lean
keep-alive HTTP/1.1 client, and the CPU and transactions that a run cost each party."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subscribers_generate import BENCH_PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    url: str,
    port: int,
    extra_env: dict[str, str],
    extra_args: list[str],
    dev_mode: bool = True,
    log: IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """`spoa serve` on 127.0.0.1:port, ready; its output goes to `log` (default: ours)."""
    env = dict(os.environ)
    env.update(
        SPOA_DATABASE_URL=url,
        SPOA_DEV_MODE="1",
        SPOA_SECRET_KEY="bench-secret-key-0123456789abcdef",
        SPOA_DATA_DIR=tempfile.mkdtemp(prefix="spoa-bench-"),
        SPOA_LOG_LEVEL="WARNING",
    )
    if not dev_mode:
        del env["SPOA_DEV_MODE"]  # as in production: no GraphiQL, no anonymous introspection
    env.update(extra_env)
    command = [sys.executable, "-m", "api.cli.main", "serve", "--port", str(port), *extra_args]
    root = Path(__file__).resolve().parents[1]
    # Our own interpreter and module (S603).
    server = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=log)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not become ready")


async def login(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post(
        "/graphql",
        json={
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p)"
            " { session { token } userErrors { code } } }",
            "variables": {"u": username, "p": BENCH_PASSWORD},
        },
    )
    token: str = response.json()["data"]["login"]["session"]["token"]
    return token


class KeepAliveConnection:
    """A minimal HTTP/1.1 client on one keep-alive connection: writes a POST, reads the status,
    headers and the (content-length or chunked) body. Real HTTP, a fraction of httpx's CPU, so
    that the client on the same machine takes less from the server (`--client httpx` compares).
    """

    def __init__(self, host: str, port: int, token: str | None) -> None:
        self.host, self.port = host, port
        authorization = f"Authorization: Bearer {token}\r\n" if token else ""
        self.head = (
            f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"{authorization}Content-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, payload: dict[str, Any]) -> Any:
        """The decoded JSON answer (the GraphQL body tells success or errors)."""
        return json.loads((await self.exchange(payload))[1])

    async def exchange(self, payload: dict[str, Any]) -> tuple[int, bytes]:
        """The HTTP status and the raw body of the answer."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = json.dumps(payload).encode()
        self.writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        reader = self.reader
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            parts = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readline()
            await reader.readline()
            content = b"".join(parts)
        else:
            content = await reader.readexactly(length)
        if close:
            self.close()
        return status, content

    def close(self) -> None:
        """Close the connection; the next request opens a new one (also after a failed one,
        whose answer may still be on its way)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(dbname: str) -> float:
    """utime + stime of the PostgreSQL backends serving `dbname` (same machine), from /proc."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if title.startswith("postgres: ") and f" {dbname} " in title:
                total += process_cpu_seconds(int(entry.name))
        except OSError:
            continue  # the backend went away
    return total


def database_transactions(url: str) -> int:
    """Transactions committed or rolled back in the database so far (PostgreSQL's statistics,
    flushed by each backend within about a second)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (uvicorn workers, a projections process), from /proc."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        listed = children.read_text().split() if children.exists() else []
    except OSError:
        listed = []  # the process went away
    for child in listed:
        pids.extend(process_tree(int(child)))
    return pids


def server_cpu_seconds(pid: int) -> float:
    """The server process and its children (uvicorn workers, a projections process)."""
    total = 0.0
    for each in process_tree(pid):
        try:
            total += process_cpu_seconds(each)
        except OSError:
            continue
    return total


def server_rss_bytes(pid: int) -> int:
    """Resident memory summed over the server process and its children (shared pages counted
    in each), from /proc."""
    total = 0
    for each in process_tree(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def server_log_errors(path: Path, offset: int) -> tuple[int, dict[str, int]]:
    """The ERROR lines a server wrote to its JSON log file since `offset`, counted by their
    gist (the exception's last line, else the message), and the offset to read on from."""
    with path.open("rb") as log:
        log.seek(offset)
        data = log.read()
    data = data[: data.rfind(b"\n") + 1]  # a line still being written waits for next time
    counts: dict[str, int] = {}
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # uvicorn's own plain-text lines
        if not isinstance(entry, dict) or entry.get("level") not in ("ERROR", "CRITICAL"):
            continue
        text = str(entry.get("exception") or entry.get("message") or "").strip()
        gist = text.splitlines()[-1][:160] if text else "?"
        counts[gist] = counts.get(gist, 0) + 1
    return offset + len(data), counts
