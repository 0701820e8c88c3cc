"""Opening the warehouse: its URL checked, its engine made, its files private, its errors named."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import duckdb
import psycopg
import sqlalchemy as sa
from promosync.connectors.config import (
    ALLOW_EPHEMERAL,
    DEFAULT_WAREHOUSE_URL,
    ephemeral_allowed,
    warehouse_url,
)
from sqlalchemy.engine import Engine

__all__ = ["ephemeral_allowed", "warehouse_url"]  # read in connectors/config.py, used here

DEFAULT_URL = DEFAULT_WAREHOUSE_URL
EPHEMERAL_SETTING = ALLOW_EPHEMERAL
EXAMPLES = "e.g. duckdb:///path/warehouse.duckdb or postgresql+psycopg://user@host/db"
# Drivers SQLAlchemy picks for a bare scheme that promosync does not install, and the one it does.
_BARE_SCHEMES = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
_FILE_BACKENDS = ("duckdb", "sqlite")

# DuckDB settings for the embedded warehouse (a URL can set its own, e.g.
# `duckdb:///w.duckdb?memory_limit=4GB`). DuckDB checkpoints, rewriting the changed tables and
# their whole primary-key index into the file, whenever its write-ahead log passes
# `checkpoint_threshold`: at its default of 16 MB a million-row sync checkpointed ~25 times into
# an ever larger index and spent half its write time there (bench/RESULTS.md). Data not yet
# checkpointed is held in memory, so `memory_limit` bounds it (DuckDB spills past it) instead of
# DuckDB's default of 80 % of the machine. Committed batches are durable in the log either way.
DUCKDB_CONFIG = {"checkpoint_threshold": "256MB", "memory_limit": "256MB"}


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened, reached or written; the message says what to change.

    `transient` is true when the same step may pass if tried again shortly (a lost connection,
    a deadlock); everything else (a bad URL, a missing driver, rights, a value of a new type) is
    permanent and fails the run at once.
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


# What a database raises: through SQLAlchemy, or straight from a driver (COPY, registered frames).
DATABASE_ERRORS = (sa.exc.DBAPIError, duckdb.Error, psycopg.Error)
# Failures that a retry a few seconds later can get past (PostgreSQL SQLSTATE classes 40, 57P).
_TRANSIENT = re.compile(
    r"deadlock detected|could not serialize|server closed the connection|terminating connection"
    r"|connection .*(lost|reset|closed)",
    re.IGNORECASE,
)


def display_url(url: str) -> str:
    """`url` with its password masked, also when SQLAlchemy cannot parse it."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return re.sub(r"(://[^/@:]*:)[^/?#]*@", r"\1***@", url)  # up to the last @


def is_ephemeral(url: sa.URL) -> bool:
    """True when a file database's URL names no file: it lives in memory, gone with the process."""
    if url.get_backend_name() not in _FILE_BACKENDS:
        return False
    database = url.database or ""
    memory = database.startswith((":memory:", "file::memory:"))
    return not database or memory or url.query.get("mode") == "memory"


def resolve_url(url: str, allow_ephemeral: bool | None = None) -> sa.URL:
    """`url` parsed and checked: a bare `postgresql://` uses psycopg; a database that would not
    persist is refused unless allowed (`allow_ephemeral`, else PROMOSYNC_ALLOW_EPHEMERAL_WAREHOUSE).
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise WarehouseError(
            f"WAREHOUSE_URL {display_url(url)!r} is not a database URL; {EXAMPLES}"
        ) from None
    if parsed.drivername in _BARE_SCHEMES:
        parsed = parsed.set(drivername=_BARE_SCHEMES[parsed.drivername])
    allowed = ephemeral_allowed() if allow_ephemeral is None else allow_ephemeral
    if is_ephemeral(parsed) and not allowed:
        raise WarehouseError(
            f"WAREHOUSE_URL {display_url(url)!r} names no database file: what a sync writes there"
            " is gone when it ends (an unset variable?); set it to a file or a server, "
            f"{EXAMPLES}; for an experiment, pass --allow-ephemeral-warehouse"
            f" or set {EPHEMERAL_SETTING}=1"
        )
    return parsed


def missing_duckdb_file(url: str) -> bool:
    """True when `url` names a DuckDB file that does not exist (a reader must not create it)."""
    parsed = resolve_url(url, allow_ephemeral=True)
    if parsed.get_backend_name() != "duckdb" or is_ephemeral(parsed):
        return False
    return not Path(parsed.database).exists()


def _private_folder(folder: Path) -> None:
    """Create `folder` and its missing parents readable by this user only (0700)."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode passes through the umask


def create_engine(url: str | sa.URL, read_only: bool = False) -> Engine:
    """An engine for `url`, which must name a driver that is installed.

    A DuckDB file that does not exist yet is created private to this user (0600, and 0700 for
    the folders made for it); `read_only` opens DuckDB read-only, which needs the file to exist.
    """
    parsed = sa.engine.make_url(url) if isinstance(url, str) else url
    shown = parsed.render_as_string(hide_password=True)
    try:
        if parsed.get_backend_name() != "duckdb":
            return sa.create_engine(parsed)
        config = dict(DUCKDB_CONFIG, **({"access_mode": "read_only"} if read_only else {}))
        engine = sa.create_engine(parsed, connect_args={"config": config})
    except sa.exc.NoSuchModuleError:
        message = f"WAREHOUSE_URL {shown!r} names no installed driver; {EXAMPLES}"
        raise WarehouseError(message) from None
    except ImportError as error:  # the dialect is known, its driver package is not installed
        raise WarehouseError(
            f"WAREHOUSE_URL {shown!r} needs the Python package {error.name!r}, which is not"
            f" installed: install it beside promosync, or use a driver that is, {EXAMPLES}"
        ) from None
    if is_ephemeral(parsed) or read_only:
        return engine
    path = Path(parsed.database)
    if not path.exists():
        _private_folder(path.parent)

        @sa.event.listens_for(engine, "connect", once=True)
        def _private_file(*_: object) -> None:
            if path.exists():
                path.chmod(stat.S_IRUSR | stat.S_IWUSR)

    return engine


def warehouse_error(error: Exception, url: str, doing: str) -> WarehouseError:
    """A WarehouseError saying what went wrong while `doing` something, and what to change."""
    shown = display_url(url)
    if isinstance(error, WarehouseError):
        return error
    if isinstance(error, sa.exc.NoSuchModuleError):
        return WarehouseError(f"WAREHOUSE_URL {shown!r} names no installed driver; {EXAMPLES}")
    if isinstance(error, sa.exc.ArgumentError):
        return WarehouseError(f"WAREHOUSE_URL {shown!r} is not a database URL; {EXAMPLES}")
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines() or ["unknown error"]
    reason = "; ".join([lines[0], *(line for line in lines[1:] if line.startswith("CONTEXT"))])
    if any(kind.__name__ == "DataError" for kind in type(cause).__mro__):  # PEP 249's name
        return WarehouseError(
            f"{doing}: the warehouse refused a value: {reason}. A field the API sends changed"
            " type (schema drift); nothing of this batch was written and its cursor did not move"
        )
    lowered = reason.lower()
    if "read-only" in lowered or "permission denied" in lowered:
        return WarehouseError(
            f"{doing}: the warehouse {shown} cannot be written: {reason}; give this user write"
            " rights (CREATE, INSERT, UPDATE) or point WAREHOUSE_URL at a writable database"
        )
    if _TRANSIENT.search(reason):
        return WarehouseError(f"{doing}: the warehouse {shown} failed: {reason}", transient=True)
    if "not a valid duckdb database" in lowered:
        return WarehouseError(
            f"{doing}: {shown} is not a DuckDB database file: {reason}; point WAREHOUSE_URL at"
            " a DuckDB file, or at a path where promosync may create one"
        )
    if isinstance(error, sa.exc.OperationalError | OSError) or "lock" in lowered:
        return WarehouseError(f"{doing}: cannot open the warehouse {shown}: {reason}")
    return WarehouseError(f"{doing}: the warehouse {shown} failed: {reason}")
