"""Where history ingestion's database time goes: CPU seconds per 100,000 SMS records, per stage,
in the PostgreSQL backend and in this client, next to the raw COPY of the same records.

    .venv/bin/python bench/history_ingest_costs.py
    .venv/bin/python bench/history_ingest_costs.py --records 200000 --rounds 5

bench/history_ingest.py measures the whole path (HTTP, validation, the feed store, both
projections) against COPY; this script takes the stages apart, so that the ratio it prints
can be explained (the server's validation and event encoding run in this process, and show
as client CPU): each stage runs alone on a fresh schema built by the projections' own
`create_tables` (from a CHECKPOINT), in 2,000-record chunks as the feed stores them, and the
figure is the median of the rounds. Two alternatives that were tried for the projections are
measured too, so that the reason they were not kept stays checkable:

- the records as COPY rows written by the projection runner (psycopg `write_row`), instead of
  handing the chunk's JSON to PostgreSQL;
- the usage counters aggregated in Python and COPYed as append-only deltas, instead of the
  upsert per msisdn and day.

Creates a database on SPOA_BENCH_PG_URL (default: the machine's PostgreSQL) and drops it after.
Not a test.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import DatetimeAsISO
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from history_ingest import ndjson_batches
from subscribers_generate import drop_database, fresh_database

from api.ingest import VALIDATE_BYTES
from application.history.validation import BatchValidator
from domain.history.records import MAIL_ARRIVAL_NOTICE, SELF_WRITTEN, RecordKind
from infra.feed_codec import FeedCompressor, FeedTranscoder
from projections.history import (
    HistoryProjection,
    HistoryUsageProjection,
    chunk_statement,
    rows_cte,
    usage_statement,
)

COLUMNS = [
    "msisdn",
    "source_record_id",
    "occurred_at",
    "direction",
    "peer",
    "status",
    "fee_fen",
    "category",
    "size_bytes",
]
CHUNK = 2000  # records per stored feed event, as PlatformBatch writes them
SCHEMA = "costs"


def records(total: int, subscribers: int) -> list[list[Any]]:
    """The same records as bench/history_ingest.py, as validated rows (canonical UTC times)."""
    start = datetime(2026, 9, 1, tzinfo=UTC)
    rows = []
    for n in range(total):
        category = SELF_WRITTEN if n % 3 else MAIL_ARRIVAL_NOTICE
        at = (start + timedelta(seconds=n * 7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        direction = "SENT" if category == SELF_WRITTEN else "RECEIVED"
        msisdn = f"138{n % subscribers:08d}"
        rows.append(
            [msisdn, f"sms-{n}", at, direction, "10658139", "DELIVERED", 10, category, None]
        )
    return rows


class Stages:
    def __init__(self, url: str, rows: list[list[Any]], rounds: int) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.rows = rows
        self.rounds = rounds
        self.documents = [
            orjson.dumps(
                {"kind": "SMS", "columns": COLUMNS, "offset": i, "records": rows[i : i + CHUNK]}
            ).decode()
            for i in range(0, len(rows), CHUNK)
        ]
        self.tick = os.sysconf("SC_CLK_TCK")

    def fresh_schema(self) -> None:
        self.conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        self.conn.execute(f"CREATE SCHEMA {SCHEMA}")
        with self.conn.cursor() as cur:
            HistoryProjection().create_tables(cur, SCHEMA)
            HistoryUsageProjection().create_tables(cur, SCHEMA)
            cur.execute(
                f"CREATE TABLE {SCHEMA}.usage_deltas (day date NOT NULL,"
                ' msisdn text COLLATE "C" NOT NULL, position bigint NOT NULL,'
                " sms bigint NOT NULL, mms bigint NOT NULL, arrivals bigint NOT NULL)"
            )
            cur.execute(f"CREATE INDEX ON {SCHEMA}.usage_deltas (day, msisdn)")
        self.conn.execute("CHECKPOINT")

    def backend_cpu(self) -> float:
        with open(f"/proc/{self.conn.info.backend_pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick

    def measure(self, name: str, stage: Callable[[psycopg.Cursor[Any]], None]) -> None:
        figures = []
        for _ in range(self.rounds):
            self.fresh_schema()
            wall, client, backend = time.perf_counter(), time.process_time(), self.backend_cpu()
            with self.conn.transaction(), self.conn.cursor() as cur:
                stage(cur)
            figures.append(
                (
                    time.perf_counter() - wall,
                    time.process_time() - client,
                    self.backend_cpu() - backend,
                )
            )
        scale = 100_000 / len(self.rows)
        wall_s, client_s, backend_s = (statistics.median(f[i] for f in figures) for i in range(3))
        print(
            f"{name:<58} wall {wall_s * scale:5.2f} s   PostgreSQL {backend_s * scale:5.2f}"
            f"   client {client_s * scale:5.2f}   CPU total {(backend_s + client_s) * scale:5.2f}",
            flush=True,
        )

    def each_chunk(self, statement: sql.Composed) -> Callable[[psycopg.Cursor[Any]], None]:
        def stage(cur: psycopg.Cursor[Any]) -> None:
            for n, document in enumerate(self.documents):
                params = {"position": n + 1, "offset": n * CHUNK, "document": document}
                cur.execute(statement, params, prepare=True)

        return stage

    def raw_copy(self) -> Callable[[psycopg.Cursor[Any]], None]:
        text = io.StringIO()
        for n, row in enumerate(self.rows):
            values = "\t".join("\\N" if v is None else str(v) for v in row)
            text.write(f"{n // CHUNK + 1}\t{n}\t{values}\n")
        data = text.getvalue().encode()

        def stage(cur: psycopg.Cursor[Any]) -> None:
            with cur.copy(f"COPY {SCHEMA}.sms_records FROM STDIN") as copy:
                copy.write(data)

        return stage

    def copy_from_runner(self, cur: psycopg.Cursor[Any]) -> None:
        columns = ", ".join(["batch_pos", "idx", *COLUMNS])
        for n, document in enumerate(self.documents):
            chunk = orjson.loads(document)
            with cur.copy(f"COPY {SCHEMA}.sms_records ({columns}) FROM STDIN") as copy:
                for i, row in enumerate(chunk["records"], start=chunk["offset"]):
                    copy.write_row((n + 1, i, *row))

    def validation(self, subscribers: int) -> Callable[[psycopg.Cursor[Any]], None]:
        """The server's validation of the same records as NDJSON (BatchValidator), in pieces
        of about a megabyte as POST /ingest hands them over (api/ingest.py)."""
        body = ndjson_batches(len(self.rows), len(self.rows), subscribers)[0]
        pieces, start = [], 0
        while start < len(body):
            end = body.find(b"\n", start + VALIDATE_BYTES)
            end = len(body) if end < 0 else end
            pieces.append(body[start:end].split(b"\n"))
            start = end + 1

        def stage(_: psycopg.Cursor[Any]) -> None:
            validator, first = BatchValidator(RecordKind.SMS), 0
            for lines in pieces:
                validator.add_json_lines(lines, first)
                first += len(lines)
            assert validator.count == len(self.rows) and not validator.errors

        return stage

    def encode_and_compress(self, _: psycopg.Cursor[Any]) -> None:
        """The server's encoding of the chunk events as stored (orjson, then zlib)."""
        transcoder, compressor = FeedTranscoder(), FeedCompressor()
        transcoder.register(DatetimeAsISO())  # as the store's mapper registers it
        at = datetime.now(UTC)
        for offset in range(0, len(self.rows), CHUNK):
            state = {
                "timestamp": at,
                "kind": "SMS",
                "columns": COLUMNS,
                "offset": offset,
                "records": self.rows[offset : offset + CHUNK],
            }
            compressor.compress(transcoder.encode(state))

    def usage_deltas_from_python(self, cur: psycopg.Cursor[Any]) -> None:
        at, category, direction = (
            COLUMNS.index(c) for c in ("occurred_at", "category", "direction")
        )
        for n, document in enumerate(self.documents):
            counts: dict[tuple[str, bool, str], list[int]] = {}
            for row in orjson.loads(document)["records"]:
                if row[category] == SELF_WRITTEN and row[direction] == "SENT":
                    slot = 0
                elif row[category] == MAIL_ARRIVAL_NOTICE:
                    slot = 2
                else:
                    continue
                # the Shanghai day: UTC+8, so from 16:00 UTC on it is the next day
                key = (row[at][:10], row[at][11:13] >= "16", row[0])
                counts.setdefault(key, [0, 0, 0])[slot] += 1
            with cur.copy(f"COPY {SCHEMA}.usage_deltas FROM STDIN") as copy:
                for (day, later, msisdn), (sms, mms, arrivals) in counts.items():
                    shanghai = date.fromisoformat(day) + timedelta(days=later)
                    copy.write_row((shanghai, msisdn, n + 1, sms, mms, arrivals))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = fresh_database()
    try:
        stages = Stages(url, records(args.records, args.subscribers), args.rounds)
        validation = stages.validation(args.subscribers)
        # The test data stays alive for the whole run: out of the collector's way, as `spoa
        # serve` moves its start-up objects (api/cli/main.py), so it does not tax the stages.
        gc.freeze()
        print(
            f"CPU seconds per 100,000 SMS records ({args.records:,} measured,"
            f" {len(stages.documents)} chunks, median of {args.rounds}):"
        )
        stages.measure("raw COPY into the records table (the baseline)", stages.raw_copy())
        stages.measure("server: NDJSON validation", validation)
        stages.measure("server: chunk events encoded and compressed", stages.encode_and_compress)
        stages.measure(
            "history: chunk JSON -> records table (as shipped)",
            stages.each_chunk(chunk_statement(SCHEMA, RecordKind.SMS, COLUMNS)),
        )
        stages.measure(
            "  of which: parsing the chunk JSON (jsonb) alone",
            stages.each_chunk(rows_cte(COLUMNS) + sql.SQL(" SELECT count(*) FROM rows")),
        )
        stages.measure(
            "history_usage: upsert per msisdn and day (as shipped)",
            stages.each_chunk(usage_statement(SCHEMA, RecordKind.SMS, COLUMNS)),
        )
        stages.measure("tried: records as COPY rows from the runner", stages.copy_from_runner)
        stages.measure(
            "tried: usage aggregated in Python, COPYed as deltas", stages.usage_deltas_from_python
        )
        stages.conn.close()
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
