"""All configuration: one pydantic-settings class read from SPOA_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside dev mode


class Settings(BaseSettings):
    """Every SPOA_* setting; the README's table lists them."""

    model_config = SettingsConfigDict(env_prefix="SPOA_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset starts the embedded server"
    )
    data_dir: Path = Field(default=Path("var"), description="Embedded database and local state")
    dev_mode: bool = Field(default=False, description="GraphiQL, dev secret allowed")
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET), description="Signs session tokens (required outside dev)"
    )
    token_ttl_minutes: int = Field(default=480, ge=1, description="Session token lifetime")
    lockout_threshold: int = Field(default=5, ge=1, description="Failed logins before lock-out")
    lockout_minutes: int = Field(default=15, ge=1, description="Lock-out duration")
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
    graphql_max_depth: int = Field(default=12, description="Max query depth")
    graphql_max_aliases: int = Field(default=30, description="Max aliases per document")
    graphql_max_tokens: int = Field(default=5000, description="Max tokens per document")
    graphql_max_body_bytes: int = Field(default=1_000_000, description="Max GraphQL body size")
    page_max: int = Field(default=500, description="Cap on `first`")
    consistency_timeout_seconds: float = Field(
        default=5.0, description="Max wait for consistentWith"
    )
    projections_in_process: bool = Field(
        default=True, description="Run projection runners inside `spoa serve`"
    )
    projection_page_size: int = Field(default=2000, ge=1, description="Events per projection page")
    projection_poll_seconds: float = Field(default=1.0, description="Polling interval (truth)")
    log_level: str = Field(default="INFO", description="Log level")
    log_json: bool = Field(default=True, description="JSON log lines")

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if not self.dev_mode and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError(
                "SPOA_SECRET_KEY must be set outside dev mode (set SPOA_DEV_MODE=1 for local use)"
            )
        if len(self.secret_key.get_secret_value()) < 16:
            raise ValueError("SPOA_SECRET_KEY must be at least 16 characters")
        return self
