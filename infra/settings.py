"""All configuration: one pydantic-settings class read from SPOA_* environment variables."""

from __future__ import annotations

import ipaddress
import secrets
from datetime import time
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside dev mode


class Settings(BaseSettings):
    """Every SPOA_* setting; the README's table lists them."""

    model_config = SettingsConfigDict(env_prefix="SPOA_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the role the service runs as; unset starts the embedded"
        " server",
    )
    database_owner_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the role that owns the schema: `spoa db upgrade` and the"
        " upgrade at start-up run as it and grant the SPOA_DATABASE_URL role only what it needs"
        " (unset: that one role does everything)",
    )
    data_dir: Path = Field(default=Path("var"), description="Embedded database and local state")
    dev_mode: bool = Field(default=False, description="GraphiQL, dev secret allowed")
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET), description="Signs session tokens (required outside dev)"
    )
    token_ttl_minutes: int = Field(default=480, ge=1, description="Session token lifetime")
    login_max_delay_seconds: float = Field(
        default=30,
        ge=1,
        description="Cap on the delay after failed logins (it doubles from 1 s per failure) per"
        " username and client address, and per client address",
    )
    login_address_free_failures: int = Field(
        default=20,
        ge=0,
        description="Failed logins from one client address before its own delays start (many"
        " staff may share one office address)",
    )
    anonymous_requests_per_second: float = Field(
        default=20,
        ge=0,
        description="Requests without a session per client address and second, on /graphql and"
        " /sso (0: no limit)",
    )
    anonymous_request_burst: int = Field(
        default=60, ge=1, description="Requests without a session one address may send at once"
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated proxy addresses or networks whose X-Forwarded-For is"
        " believed (none: the socket peer is the client)",
    )
    password_hash_concurrency: int = Field(
        default=2, ge=1, description="Password hashes computed or verified at once per process"
    )
    password_hash_queue: int = Field(
        default=8,
        ge=0,
        description="Password hashes that may wait for a slot; past that the answer is"
        " RATE_LIMITED (HTTP 429)",
    )
    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id iterations")
    argon2_memory_kib: int = Field(default=65536, ge=1024, description="argon2id memory (KiB)")
    argon2_parallelism: int = Field(default=4, ge=1, description="argon2id lanes")

    sso_issuer: str = Field(default="spoa-portal", description="Expected iss of SSO tickets")
    sso_audience: str = Field(default="spoa-139mail", description="Expected aud of SSO tickets")
    sso_key: SecretStr | None = Field(
        default=None, description="Portal's verification key (PEM public key or HMAC secret)"
    )
    sso_algorithm: str = Field(default="RS256", description="SSO ticket signature algorithm")
    sso_max_lifetime_seconds: int = Field(default=60, description="Max exp distance of a ticket")

    db_pool_size: int = Field(default=8, ge=1, description="Connections per pool")
    worker_threads: int = Field(
        default=40,
        ge=1,
        le=1000,
        description="Threads per process that run blocking application code (database work)",
    )
    aggregate_cache_size: int = Field(
        default=10_000,
        ge=0,
        description="Core aggregates kept in memory per process, re-read from their events on"
        " every use (0: off)",
    )
    graphql_max_depth: int = Field(default=12, description="Max query depth")
    graphql_max_aliases: int = Field(default=30, description="Max aliases per document")
    graphql_max_tokens: int = Field(default=5000, description="Max tokens per document")
    graphql_max_body_bytes: int = Field(default=1_000_000, description="Max GraphQL body size")
    json_max_depth: int = Field(
        default=64, ge=2, description="Deepest nesting of a JSON request body (GraphQL, SSO)"
    )
    page_max: int = Field(default=500, description="Cap on `first`")
    query_max_cost: int = Field(
        default=10_000,
        ge=1,
        description="Most a GraphQL request may cost (items it may resolve), else QUERY_TOO_COSTLY",
    )
    statistics_max_rows: int = Field(
        default=10_000, ge=1, description="Most rows one statistics field or export may produce"
    )
    expensive_per_account: int = Field(
        default=2,
        ge=1,
        description="Statistics, exports, searches and event pages one account may run at once"
        " per process; more are RATE_LIMITED",
    )
    ws_allowed_origins: str = Field(
        default="",
        description="Comma-separated browser origins (scheme://host[:port]) that may open a"
        " GraphQL WebSocket besides the server's own, or `*` for any",
    )
    ws_max_per_account: int = Field(
        default=5, ge=1, description="GraphQL WebSockets one account may hold open per process"
    )
    ws_max_operations: int = Field(
        default=20,
        ge=1,
        description="Operations (subscriptions) running at once on one GraphQL WebSocket",
    )
    ws_queue_messages: int = Field(
        default=200,
        ge=1,
        description="Messages waiting to be sent on one GraphQL WebSocket; a client that lets"
        " more pile up is disconnected (close code 1013)",
    )
    graphiql: bool = Field(
        default=False,
        description="Serve GraphiQL at GET /graphql outside dev mode too (assets from the"
        " package; the token goes in its header editor)",
    )
    consistency_timeout_seconds: float = Field(
        default=5.0, description="Max wait for consistentWith, then CONSISTENCY_TIMEOUT"
    )
    projections_in_process: bool = Field(
        default=True, description="Run projection runners inside `spoa serve`"
    )
    projection_page_size: int = Field(default=2000, ge=1, description="Events per projection page")
    projection_poll_seconds: float = Field(
        default=1.0,
        description="Polling interval (truth), of the runners and the consistentWith waits",
    )
    projection_batch_seconds: float = Field(
        default=0.05,
        ge=0,
        description="Under load (a step found a backlog) a runner steps at most this often",
    )
    projection_auto_rebuild: bool = Field(
        default=True,
        description="The runners rebuild (blue/green) a projection whose tables are of an older"
        " version than its code",
    )
    projection_retry_max_seconds: float = Field(
        default=60,
        gt=0,
        description="A failing projection retries after the poll interval, doubling up to this",
    )
    projection_failing_seconds: float = Field(
        default=60,
        ge=0,
        description="/readyz answers 503 once a projection has been failing for this long",
    )
    ingest_max_records: int = Field(default=100_000, ge=1, description="Records per batch")
    ingest_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Bytes per bulk NDJSON batch"
    )
    ingest_max_concurrent: int = Field(
        default=4,
        ge=1,
        description="Bulk NDJSON batches validated at once per process (each holds its rows in"
        " memory); more wait for a slot",
    )
    ingest_queue_seconds: float = Field(
        default=30,
        ge=0,
        description="How long a bulk batch waits for a slot before the answer is 503 BUSY",
    )
    sla_hours_urgent: float = Field(
        default=2, gt=0, description="URGENT ticket: business hours to answer"
    )
    sla_hours_high: float = Field(
        default=8, gt=0, description="HIGH ticket: business hours to answer"
    )
    sla_hours_normal: float = Field(
        default=24, gt=0, description="NORMAL ticket: business hours to answer"
    )
    sla_hours_low: float = Field(
        default=72, gt=0, description="LOW ticket: business hours to answer"
    )
    business_hours_start: time = Field(
        default=time(9, 0), description="Support desk opens (local time, HH:MM)"
    )
    business_hours_end: time = Field(
        default=time(18, 0), description="Support desk closes (local time, HH:MM)"
    )
    business_days: str = Field(
        default="1,2,3,4,5",
        pattern=r"^[1-7](,[1-7])*$",
        description="Working ISO weekdays, comma-separated (1 = Monday)",
    )
    business_holidays: str = Field(
        default="",
        pattern=r"^(\d{4}-\d{2}-\d{2}(,\d{4}-\d{2}-\d{2})*)?$",
        description="Closed dates, comma-separated YYYY-MM-DD",
    )
    business_timezone: str = Field(
        default="Asia/Shanghai", description="Time zone of business hours"
    )
    document_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="Largest FAQ document upload (bytes)"
    )
    blob_orphan_grace_hours: float = Field(
        default=24,
        ge=1,
        description="Stored document bytes that no event refers to are swept once no upload has"
        " claimed them for this long",
    )
    blob_sweep_interval_hours: float = Field(
        default=6,
        ge=0,
        description="How often the process leading the faqs projection sweeps orphan document"
        " bytes (0: only `spoa documents sweep`)",
    )
    audit_signing_key: Path | None = Field(
        default=None,
        description="Ed25519 private key file (`spoa audit keygen`) that signs audit anchors",
    )
    audit_anchor_dir: Path | None = Field(
        default=None,
        description="Where the process leading the audit projection appends a signed anchor at"
        " each checkpoint (anchors.ndjson; needs SPOA_AUDIT_SIGNING_KEY)",
    )
    webhooks_in_process: bool = Field(
        default=True, description="Run the webhook dispatcher inside `spoa serve`"
    )
    webhook_concurrency: int = Field(
        default=16,
        ge=1,
        description="Webhook requests in flight at once per endpoint (in the process leading it)",
    )
    webhook_timeout_seconds: float = Field(
        default=10, gt=0, description="Bound on one webhook attempt (connect, send, answer)"
    )
    webhook_retry_initial_seconds: float = Field(
        default=1.0,
        gt=0,
        description="First wait before a webhook is tried again, doubling up to an hour",
    )
    webhook_max_attempts: int = Field(
        default=20, ge=1, description="Attempts before a webhook delivery is DEAD"
    )
    webhook_rotation_grace_seconds: float = Field(
        default=86_400,
        ge=0,
        description="After a secret rotation, deliveries are signed with both secrets this long",
    )
    webhook_allowed_hosts: str = Field(
        default="",
        description="Comma-separated hosts (`*.example.com` for subdomains) and IP networks"
        " webhook URLs may name (none: any host)",
    )
    log_level: str = Field(default="INFO", description="Log level")
    log_json: bool = Field(default=True, description="JSON log lines")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _webhook_hosts(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            if any(c.isspace() or c in "/:@" for c in item.strip("[]")) and not _network(item):
                raise ValueError(f"{item!r} is not a host name, *.domain or IP network")
        return value

    @property
    def ws_allowed_origin_list(self) -> list[str]:
        return [
            part.strip().rstrip("/") for part in self.ws_allowed_origins.split(",") if part.strip()
        ]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @model_validator(mode="after")
    def _owner_of_the_same_database(self) -> Settings:
        if self.database_owner_url is None:
            return self
        if not self.database_url:
            raise ValueError(
                "SPOA_DATABASE_OWNER_URL needs SPOA_DATABASE_URL (the role the service runs as)"
            )
        where = [
            {k: conninfo_to_dict(url).get(k) for k in ("host", "port", "dbname")}
            for url in (self.database_url, self.database_owner_url)
        ]
        if where[0] != where[1]:
            raise ValueError(
                "SPOA_DATABASE_OWNER_URL and SPOA_DATABASE_URL must name the same database"
            )
        return self

    @model_validator(mode="after")
    def _anchors_are_signed(self) -> Settings:
        if self.audit_anchor_dir is not None and self.audit_signing_key is None:
            raise ValueError("SPOA_AUDIT_ANCHOR_DIR needs SPOA_AUDIT_SIGNING_KEY to sign anchors")
        return self

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if not self.dev_mode and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError(
                "SPOA_SECRET_KEY must be set outside dev mode (set SPOA_DEV_MODE=1 for local use)"
            )
        if len(self.secret_key.get_secret_value()) < 16:
            raise ValueError("SPOA_SECRET_KEY must be at least 16 characters")
        return self


def _network(item: str) -> bool:
    try:
        ipaddress.ip_network(item.strip("[]"), strict=False)
    except ValueError:
        return False
    return True


def load_settings() -> Settings:
    """The settings from the environment; in dev mode without SPOA_SECRET_KEY, a random
    secret kept in the data directory, so tokens survive restarts without any fixed secret
    ever being valid."""
    settings = Settings()
    if settings.dev_mode and settings.secret_key.get_secret_value() == DEV_SECRET:
        path = Path(settings.data_dir) / "dev-secret-key"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        settings = settings.model_copy(update={"secret_key": SecretStr(path.read_text().strip())})
    return settings
