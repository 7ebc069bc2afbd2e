"""FAQ search index read model: one row per FAQ with CJK-capable full-text columns.

PostgreSQL does the searching without extensions (pg_trgm is not in every build; the embedded
server lacks it): a weighted tsvector of our own lexemes (title A, keywords B, body C) under a
GIN index, plus folded text columns for exact CJK substring checks. How text becomes lexemes
is domain.knowledge.search_text; this module only stores and queries them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import Cursor, sql
from psycopg.types.json import Jsonb

from domain.knowledge.faq import DocumentRef, Faq
from domain.knowledge.search_text import SearchQuery, fold, lexemes, tsvector_literal
from projections.runtime.base import Projection, RecordedEvent

_CONTENT_EVENTS = (Faq.FaqCreated, Faq.FaqRevised)


def search_columns(title: str, body: str, keywords: Sequence[str]) -> dict[str, str]:
    """The derived search columns of a FAQ's content."""
    keyword_text = "\n".join(keywords)
    return {
        "search_title": fold(title),
        "search_keywords": fold(keyword_text),
        "search_text": "\n".join((fold(title), fold(keyword_text), fold(body))),
        "title_vector": tsvector_literal(lexemes(title), "A"),
        "keywords_vector": tsvector_literal(lexemes(keyword_text), "B"),
        "body_vector": tsvector_literal(lexemes(body), "C"),
    }


class FaqsProjection(Projection):
    name = "faqs"
    store = "core"
    topics = frozenset(
        cls.TOPIC
        for cls in (
            Faq.FaqCreated,
            Faq.FaqRevised,
            Faq.FaqRemoved,
            Faq.FaqDocumentAttached,
            Faq.FaqDocumentDetached,
        )
    )
    tables = ("faqs", "faq_document_refs")

    def create_tables(self, cur: Cursor[Any], schema: str) -> None:
        s = sql.Identifier(schema)
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.faqs ("
                " id uuid PRIMARY KEY,"
                " title text NOT NULL,"
                " body text NOT NULL,"
                " category text NOT NULL,"
                " keywords text[] NOT NULL,"
                " documents jsonb NOT NULL DEFAULT '[]',"
                " created_at timestamptz NOT NULL,"
                " updated_at timestamptz NOT NULL,"
                " version int NOT NULL,"
                " removed boolean NOT NULL DEFAULT false,"
                " search_title text NOT NULL,"
                " search_keywords text NOT NULL,"
                " search_text text NOT NULL,"
                " title_tsv tsvector NOT NULL,"
                " keywords_tsv tsvector NOT NULL,"
                " tsv tsvector NOT NULL)"
            ).format(s)
        )
        cur.execute(sql.SQL("CREATE INDEX ON {}.faqs USING gin (tsv) WHERE NOT removed").format(s))
        # Not partial on purpose: a partial "NOT removed" index looks like a cheap way to find
        # live rows to the planner, which then filters every row's vector instead of using GIN.
        cur.execute(sql.SQL("CREATE INDEX ON {}.faqs (updated_at DESC, id DESC)").format(s))
        cur.execute(sql.SQL("CREATE INDEX ON {}.faqs (category)").format(s))
        # A row for every document ever attached to a FAQ, never deleted (a detach only clears
        # `attached`): the orphan document sweep (FaqDocumentReferences) relies on it.
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.faq_document_refs ("
                " faq_id uuid NOT NULL,"
                " sha256 text NOT NULL,"
                " filename text NOT NULL,"
                " attached boolean NOT NULL,"
                " attached_at timestamptz NOT NULL,"
                " PRIMARY KEY (sha256, faq_id))"
            ).format(s)
        )

    def apply(self, cur: Cursor[Any], schema: str, events: Sequence[RecordedEvent]) -> None:
        faqs = sql.SQL("{}.faqs").format(sql.Identifier(schema))
        refs = sql.SQL("{}.faq_document_refs").format(sql.Identifier(schema))
        for envelope in events:
            e = envelope.event
            common = {"id": e.originator_id, "at": e.timestamp, "version": e.originator_version}
            if isinstance(e, _CONTENT_EVENTS):
                values = {
                    **common,
                    "title": e.title,
                    "body": e.body,
                    "category": e.category,
                    "keywords": list(e.keywords),
                    **search_columns(e.title, e.body, e.keywords),
                }
                cur.execute(_UPSERT_CONTENT.format(faqs=faqs), values)
            elif isinstance(e, Faq.FaqRemoved):
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET removed = true, updated_at = %(at)s, version = %(version)s"
                        " WHERE id = %(id)s"
                    ).format(faqs),
                    common,
                )
            elif isinstance(e, Faq.FaqDocumentAttached):
                document = {
                    "sha256": e.sha256,
                    "filename": e.filename,
                    "content_type": e.content_type,
                    "size_bytes": e.size_bytes,
                    "uploaded_by": e.uploaded_by,
                    "uploaded_at": e.uploaded_at.isoformat(),
                }
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET documents = documents || %(doc)s, updated_at = %(at)s,"
                        " version = %(version)s WHERE id = %(id)s"
                    ).format(faqs),
                    {**common, "doc": Jsonb([document])},
                )
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} (faq_id, sha256, filename, attached, attached_at)"
                        " VALUES (%s, %s, %s, true, %s) ON CONFLICT (sha256, faq_id) DO UPDATE"
                        " SET filename = excluded.filename, attached = true,"
                        " attached_at = excluded.attached_at"
                    ).format(refs),
                    (e.originator_id, e.sha256, e.filename, e.uploaded_at),
                )
            elif isinstance(e, Faq.FaqDocumentDetached):
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET documents = (SELECT coalesce(jsonb_agg(d), '[]')"
                        " FROM jsonb_array_elements(documents) d WHERE d->>'sha256' <> %(sha)s),"
                        " updated_at = %(at)s, version = %(version)s WHERE id = %(id)s"
                    ).format(faqs),
                    {**common, "sha": e.sha256},
                )
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET attached = false WHERE faq_id = %s AND sha256 = %s"
                    ).format(refs),
                    (e.originator_id, e.sha256),
                )


_UPSERT_CONTENT = sql.SQL(
    "INSERT INTO {faqs} (id, title, body, category, keywords, created_at, updated_at, version,"
    " search_title, search_keywords, search_text, title_tsv, keywords_tsv, tsv)"
    " VALUES (%(id)s, %(title)s, %(body)s, %(category)s, %(keywords)s, %(at)s, %(at)s,"
    " %(version)s, %(search_title)s, %(search_keywords)s, %(search_text)s,"
    " %(title_vector)s::tsvector, %(keywords_vector)s::tsvector,"
    " %(title_vector)s::tsvector || %(keywords_vector)s::tsvector || %(body_vector)s::tsvector)"
    " ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body,"
    " category = excluded.category, keywords = excluded.keywords,"
    " updated_at = excluded.updated_at, version = excluded.version,"
    " search_title = excluded.search_title, search_keywords = excluded.search_keywords,"
    " search_text = excluded.search_text, title_tsv = excluded.title_tsv,"
    " keywords_tsv = excluded.keywords_tsv, tsv = excluded.tsv"
)


@dataclass(frozen=True)
class FaqRow:
    id: UUID
    title: str
    body: str
    category: str
    keywords: list[str]
    documents: list[DocumentRef]
    updated_at: datetime
    version: int
    score: float


def _documents(raw: list[dict[str, Any]]) -> list[DocumentRef]:
    return [
        DocumentRef(
            sha256=d["sha256"],
            filename=d["filename"],
            content_type=d["content_type"],
            size_bytes=int(d["size_bytes"]),
            uploaded_by=d["uploaded_by"],
            uploaded_at=datetime.fromisoformat(d["uploaded_at"]),
        )
        for d in raw
    ]


# Ranking: the share of the query's terms found in the title counts 4, in the keywords 2, and
# PostgreSQL's weighted rank (title A > keywords B > body C, scaled into [0, 1)) breaks ties;
# so a FAQ whose title holds every term always comes before one that only mentions them.
TITLE_WEIGHT = 4.0
KEYWORDS_WEIGHT = 2.0
RANK_NORMALISATION = 1 | 32  # divide by 1 + log(length); then rank / (rank + 1)


def match_sql(query: SearchQuery, category: str | None) -> tuple[str, str, dict[str, Any]]:
    """The WHERE clause, the score expression and their parameters of a search."""
    params: dict[str, Any] = {}
    where = ["NOT removed"]
    score = "0::float8"
    if query.terms:
        params["q"] = query.tsquery()
        where.append("tsv @@ %(q)s::tsquery")
        in_title, in_keywords = [], []
        for index, term in enumerate(query.terms):
            key = f"t{index}"
            if term.loose:
                present, titled, keyed = [], [], []
                for number, bigram in enumerate(term.bigrams):
                    part = f"{key}_{number}"
                    params[part] = bigram
                    present.append(f"(strpos(search_text, %({part})s) > 0)::int")
                    titled.append(f"(strpos(search_title, %({part})s) > 0)::int")
                    keyed.append(f"(strpos(search_keywords, %({part})s) > 0)::int")
                share = f"{len(term.bigrams)}::float8"
                where.append(f"({' + '.join(present)}) >= {term.needed}")
                in_title.append(f"({' + '.join(titled)}) / {share}")
                in_keywords.append(f"({' + '.join(keyed)}) / {share}")
            elif term.cjk:
                params[key] = term.text
                # One or two characters are one index term, which the GIN match already
                # checked exactly; longer runs are an AND of bigrams: check the phrase.
                if len(term.text) > 2:
                    where.append(f"strpos(search_text, %({key})s) > 0")
                in_title.append(f"(strpos(search_title, %({key})s) > 0)::int")
                in_keywords.append(f"(strpos(search_keywords, %({key})s) > 0)::int")
            else:
                params[key] = term.tsquery()
                in_title.append(f"(title_tsv @@ %({key})s::tsquery)::int")
                in_keywords.append(f"(keywords_tsv @@ %({key})s::tsquery)::int")
        count = len(query.terms)
        score = (
            f"({TITLE_WEIGHT}::float8 * ({' + '.join(in_title)})"
            f" + {KEYWORDS_WEIGHT}::float8 * ({' + '.join(in_keywords)})) / {count}::float8"
            f" + ts_rank(tsv, %(q)s::tsquery, {RANK_NORMALISATION})::float8"
        )
    if category is not None:
        params["category"] = category
        where.append("category = %(category)s")
    return " AND ".join(where), score, params


class FaqQueries:
    """Reads rm.faqs (search) and rm.faq_document_refs (document names)."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect

    def search(
        self, query: SearchQuery, category: str | None, after: Any, limit: int
    ) -> tuple[list[FaqRow], int]:
        where, score, params = match_sql(query, category)
        page = ""
        if after is not None:
            page = "WHERE (score, updated_at, id) < (%(after_score)s, %(after_at)s, %(after_id)s)"
            params.update(after_score=after.score, after_at=after.updated_at, after_id=after.faq_id)
        params["limit"] = limit
        with self._connect() as conn, conn.transaction(), conn.cursor() as cur:
            # Our tsqueries hold plain lexemes (no weights, no phrases), so the GIN index
            # answers them exactly, without reading a single vector; the planner does not
            # know that and, for common terms, prefers a scan that decompresses every row.
            cur.execute("SET LOCAL enable_seqscan = off")
            # One pass: the matches are scored once, counted, and only the page's rows are
            # fetched whole.
            cur.execute(
                f"WITH m AS MATERIALIZED (SELECT id, updated_at, {score} AS score"
                f" FROM rm.faqs WHERE {where}),"
                f" page AS (SELECT id, updated_at, score FROM m {page}"
                " ORDER BY score DESC, updated_at DESC, id DESC LIMIT %(limit)s)"
                " SELECT t.total, f.id, f.title, f.body, f.category, f.keywords, f.documents,"
                " f.updated_at, f.version, page.score"
                " FROM (SELECT count(*) AS total FROM m) t"
                " LEFT JOIN page ON true LEFT JOIN rm.faqs f ON f.id = page.id"
                " ORDER BY page.score DESC, page.updated_at DESC, page.id DESC",
                params,
            )
            records = cur.fetchall()
        total = int(records[0][0]) if records else 0
        rows = [
            FaqRow(r[1], r[2], r[3], r[4], list(r[5]), _documents(r[6]), r[7], r[8], r[9])
            for r in records
            if r[1] is not None
        ]
        return rows, total

    def latest_filename(self, sha256: str) -> str | None:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT filename FROM rm.faq_document_refs WHERE sha256 = %s"
                " ORDER BY attached DESC, attached_at DESC LIMIT 1",
                (sha256,),
            )
            row = cur.fetchone()
        return str(row[0]) if row else None


class FaqDocumentReferences:
    """Which document content some stored FAQ event attaches, earlier versions included.

    rm.faq_document_refs holds a row for every (document, FAQ) ever attached (a detach only
    marks it), so it answers for every event up to the projection's position; the events
    after that position, usually none, are read from the store and decoded. Together they are
    exactly what the events say, whatever the projection's lag.
    """

    def __init__(
        self, connect: Any, events_table: str, decode: Callable[[StoredEvent], Any]
    ) -> None:
        self._connect = connect
        self._events_table = events_table
        self._decode = decode

    def referenced(self, sha256s: Collection[str]) -> set[str]:
        wanted = set(sha256s)
        with self._connect() as conn, conn.transaction(), conn.cursor() as cur:
            # Like a projection step, the registry row lock keeps a rebuild from swapping the
            # rm views between the position read here and the table read below.
            cur.execute(
                "SELECT t.position FROM projection_registry r JOIN projection_tracking t"
                " ON t.name = r.name AND t.generation = r.active_generation"
                " WHERE r.name = %s FOR SHARE OF r",
                (FaqsProjection.name,),
            )
            row = cur.fetchone()
            position = int(row[0]) if row else 0
            cur.execute(
                "SELECT DISTINCT sha256 FROM rm.faq_document_refs WHERE sha256 = ANY(%s)",
                (list(wanted),),
            )
            found = {str(r[0]) for r in cur.fetchall()}
            cur.execute(
                sql.SQL(
                    "SELECT originator_id, originator_version, topic, state FROM {}"
                    " WHERE notification_id > %s AND topic = %s"
                ).format(sql.Identifier(self._events_table)),
                (position, Faq.FaqDocumentAttached.TOPIC),
            )
            for r in cur:
                event = self._decode(
                    StoredEvent(
                        originator_id=r[0], originator_version=r[1], topic=r[2], state=bytes(r[3])
                    )
                )
                if event.sha256 in wanted:
                    found.add(event.sha256)
        return found
