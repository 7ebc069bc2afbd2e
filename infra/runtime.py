"""What a process starts with: the container, on the embedded database when no URL is set, and
the CLI's start (settings, logging, an up-to-date schema). Part of the composition root."""

from __future__ import annotations

from infra.bootstrap import Container
from infra.database import EmbeddedPostgres
from infra.logging import configure_logging
from infra.settings import Settings, load_settings


class Runtime:
    """A container plus the embedded database it may have started."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.embedded: EmbeddedPostgres | None = None
        url, owner = self.settings.database_url, self.settings.database_owner_url
        if not url:
            # The embedded server's superuser owns the schema; the service runs as a role
            # that cannot rewrite history, as it would in production.
            self.embedded = EmbeddedPostgres(self.settings.data_dir)
            owner = self.embedded.start()
            url = self.embedded.runtime_url(owner)
        self.database_url = url
        self.container = Container(self.settings, url, owner)
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.container.close()
        if self.embedded is not None:
            self.embedded.stop()


def cli_runtime() -> Runtime:
    """What every CLI command starts with: settings, logging, the database, an up-to-date
    schema."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    runtime = Runtime(settings)
    runtime.container.upgrade()
    return runtime
