"""One database connection, held and reused, reopened after a failure.

``Database`` opens pyodbc (``SQL_CONNECTION_STRING``) or, when that is unset, an embedded
SQLite file through Python's sqlite3 module; either way the same ``?``-parameter statements
run on it. ``run(work)`` runs ``work(cursor, dialect)`` in one transaction. A lost connection
or a failed login becomes ``RetryableError`` naming the engine, where it points and the cause,
never the password; a reused connection that turns out dead is reopened once at once.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pipeline.errors import ClassifierError, ConfigurationError, RetryableError
from pipeline.settings import Settings
from pipeline.sql.connstr import ConnectionString
from pipeline.sql.dialect import Dialect, detect_dialect, guess_dialect
from pipeline.sql.schema import ensure_schema, schema_check

__all__ = ["EMBEDDED_FILE", "Cursor", "Database"]

_log = logging.getLogger(__name__)

EMBEDDED_FILE = "imaginem.db"

T = TypeVar("T")

# SQLSTATE classes of a lost or refused connection, a failed login, a timeout, a deadlock.
_TRANSIENT_STATES = ("08", "28", "HYT", "40001", "40P01", "57P", "53")
# Another try may succeed: locked, busy, cannot open the file (yet), disk I/O or full.
_TRANSIENT_SQLITE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL",
                     "SQLITE_PROTOCOL")
# What psqlODBC and others say, under the catch-all HY000, when the server went away.
_TRANSIENT_WORDS = ("connection", "server closed", "terminating", "could not send", "no connection",
                    "communication link", "timeout expired", "shutdown")


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


Work = Callable[[Cursor, Dialect], T]


class Database:
    """A lazily opened connection for one worker; safe to share between its threads."""

    def __init__(self, *, connection_string: str = "", sqlite_path: Path | None = None,
                 login_timeout: int = 15) -> None:
        if bool(connection_string) == (sqlite_path is not None):
            raise ConfigurationError("Database needs either an ODBC connection string or a SQLite file")
        self._odbc = ConnectionString(connection_string) if connection_string else None
        self._sqlite_path = sqlite_path
        self._login_timeout = login_timeout
        self._connection: Any = None
        self._dialect: Dialect | None = None
        self._schema_ready = False
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """SQL_CONNECTION_STRING when set, else ``<IMAGINEM_DATA_DIR>/imaginem.db``."""
        if settings.sql_connection_string:
            return cls(connection_string=settings.sql_connection_string)
        return cls(sqlite_path=Path(settings.data_dir) / EMBEDDED_FILE)

    @property
    def embedded(self) -> bool:
        return self._odbc is None

    @property
    def engine(self) -> str:
        """The engine's name: detected once connected, guessed from the driver before."""
        dialect = self._dialect or (Dialect.SQLITE if self._odbc is None else guess_dialect(self._odbc.driver))
        name = dialect.engine if dialect else f"ODBC driver {self._odbc.driver if self._odbc else ''!r}"
        return f"{name} (embedded)" if self.embedded else name

    @property
    def target(self) -> str:
        return str(self._sqlite_path) if self._odbc is None else self._odbc.target

    def dialect(self) -> Dialect:
        """The engine's dialect (connects, and creates the schema, when not connected yet)."""
        return self.run(lambda _cursor, dialect: dialect)

    def run(self, work: Work[T]) -> T:
        """``work(cursor, dialect)`` in one transaction: committed if it returns, rolled back if it raises."""
        with self._lock:
            reused = self._connection is not None
            try:
                return self._attempt(work)
            except _DriverError as e:
                self._drop()
                if not (reused and _transient(e)):
                    raise self._translate(e, "statement failed") from None
                _log.info("%s: connection lost (%s); reconnecting once", self.engine, _state(e))
            try:
                return self._attempt(work)
            except _DriverError as e:
                self._drop()
                raise self._translate(e, "statement failed after reconnecting") from None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _attempt(self, work: Work[T]) -> T:
        connection, dialect = self._connect()
        cursor = connection.cursor()
        try:
            result = work(cursor, dialect)
            connection.commit()
            return result
        except BaseException:
            _rollback(connection)
            raise
        finally:
            cursor.close()

    def _connect(self) -> tuple[Any, Dialect]:
        if self._connection is not None and self._dialect is not None:
            return self._connection, self._dialect
        try:
            connection, dialect = self._open()
        except _ConnectError as e:
            raise self._translate(e, "cannot connect") from None
        self._connection, self._dialect = connection, dialect
        if not self._schema_ready:
            self._create_schema(connection, dialect)
            self._schema_ready = True
        _log.info("connected to %s at %s", self.engine, self.target)
        return connection, dialect

    def _open(self) -> tuple[Any, Dialect]:
        if self._odbc is None:
            assert self._sqlite_path is not None
            self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._sqlite_path, timeout=30, check_same_thread=False)
            # WAL: the host's worker processes write while the CLI or the dashboard reads.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            return connection, Dialect.SQLITE
        import pyodbc  # only where an ODBC connection string is set: it needs unixODBC

        connection = pyodbc.connect(self._odbc.text, autocommit=False, timeout=self._login_timeout)
        dbms = str(connection.getinfo(pyodbc.SQL_DBMS_NAME))
        driver = str(connection.getinfo(pyodbc.SQL_DRIVER_NAME))
        dialect = detect_dialect(dbms, driver)
        if dialect is None:
            connection.close()
            raise ConfigurationError(
                f"SQL_CONNECTION_STRING points to {dbms!r} through {driver!r}: "
                "use Azure SQL / SQL Server, PostgreSQL or SQLite"
            )
        if dialect is Dialect.SQLITE:
            connection.execute("PRAGMA foreign_keys=ON")
        return connection, dialect

    def _create_schema(self, connection: Any, dialect: Dialect) -> None:
        for attempt in (1, 2):
            cursor = connection.cursor()
            try:
                ensure_schema(cursor.execute, dialect)
                _close(cursor)
                connection.commit()
                break
            except _DriverError as e:
                _close(cursor)
                _rollback(connection)
                # Two workers creating the same table at once: the loser finds it on the second try.
                if attempt == 2 or _transient(e):
                    if not _transient(e):
                        self._refuse_older_schema(connection, dialect)
                    self._drop()
                    raise self._translate(e, "cannot create the schema") from None
        self._refuse_older_schema(connection, dialect)

    def _refuse_older_schema(self, connection: Any, dialect: Dialect) -> None:
        """Tables made by an older version (keyed by job id alone, no outcome) are refused: no migration runs."""
        for table, exists, columns in schema_check(dialect):
            if self._succeeds(connection, exists) and not self._succeeds(connection, columns):
                self._drop()
                raise ConfigurationError(
                    f"{self.engine} at {self.target}: {table} lacks columns of this version "
                    "(an older one made it, keyed by job id alone); drop pipeline_output_labels and "
                    "pipeline_output, or point SQL_CONNECTION_STRING at a new database, and both are made anew")

    def _succeeds(self, connection: Any, statement: str) -> bool:
        """Whether a read-only statement runs; its transaction ends either way (a lost connection raises)."""
        cursor = connection.cursor()
        try:
            cursor.execute(statement)
            cursor.fetchall()
            ran = True
        except _DriverError as e:
            if _transient(e):
                _close(cursor)
                self._drop()
                raise self._translate(e, "cannot read the schema") from None
            ran = False
        _close(cursor)
        _rollback(connection)  # a read left open would keep SQLite's lock past this check
        return ran

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a dead connection may refuse even to close
                _log.debug("closing a broken connection failed", exc_info=True)

    def _translate(self, error: BaseException, what: str) -> Exception:
        cause = _message(error)
        if self._odbc is not None:
            cause = self._odbc.redact(cause)
        text = f"{self.engine} at {self.target}: {what}: {cause}"
        if "Driver Manager" in cause or _state(error).startswith("IM"):
            return ConfigurationError(f"{text} (`odbcinst -q -d` lists the installed drivers)")
        if _transient(error):
            return RetryableError(text)
        return ClassifierError(text)


def _driver_errors() -> tuple[type[BaseException], ...]:
    try:
        import pyodbc
    except ImportError:  # no unixODBC: only the embedded engine can run
        return (sqlite3.Error,)
    return (sqlite3.Error, pyodbc.Error)


_DriverError = _driver_errors()
_ConnectError: tuple[type[BaseException], ...] = (*_DriverError, OSError)


def _state(error: BaseException) -> str:
    args = error.args
    if len(args) >= 2 and isinstance(args[0], str) and len(args[0]) == 5:
        return args[0]
    return ""


def _message(error: BaseException) -> str:
    args = error.args
    text = str(args[1] if len(args) >= 2 and _state(error) else error)
    # pyodbc appends the driver's native code and the ODBC call: noise for a person.
    text = text.replace("(SQLDriverConnect)", "").replace("(SQLExecDirectW)", "")
    return " ".join(text.split())


def _transient(error: BaseException) -> bool:
    if isinstance(error, OSError):
        return True  # the embedded file's folder: unwritable or missing for now
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorname", "").startswith(_TRANSIENT_SQLITE)
    state = _state(error)
    if state.startswith(_TRANSIENT_STATES):
        return True
    lowered = _message(error).lower()
    return state in ("HY000", "") and any(word in lowered for word in _TRANSIENT_WORDS)


def _close(cursor: Any) -> None:
    try:
        cursor.close()
    except Exception:  # its connection is already closed
        _log.debug("closing a cursor failed", exc_info=True)


def _rollback(connection: Any) -> None:
    try:
        connection.rollback()
    except Exception:  # the connection is already gone; it is dropped next
        _log.debug("rollback failed", exc_info=True)
