"""Connections to the face index database, with an Entra token as the password where Azure wants one.

An Azure Database for PostgreSQL host (``*.postgres.database.azure.com``) named without a password is
reached with the Function App's managed identity: the password is an access token for
``https://ossrdbms-aad.database.windows.net/.default``. Tokens last about an hour and the server checks
them only when a connection opens, so each new connection takes a token refreshed ``refresh_margin``
before it expires; open connections stay valid.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from azure.core.credentials import AccessToken, TokenCredential
from psycopg.conninfo import conninfo_to_dict

__all__ = ["AZURE_POSTGRES_SCOPE", "ConnectionPool", "EntraPassword", "TokenCredential", "needs_entra_token"]

AZURE_POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
_AZURE_HOST_SUFFIX = ".postgres.database.azure.com"

_log = logging.getLogger(__name__)


def needs_entra_token(conninfo: str) -> bool:
    """True for an Azure Database for PostgreSQL host named without a password."""
    params = conninfo_to_dict(conninfo)
    hosts = str(params.get("host", "")).split(",")
    return not params.get("password") and any(h.strip().lower().endswith(_AZURE_HOST_SUFFIX) for h in hosts)


class EntraPassword:
    """An Entra access token for PostgreSQL, fetched again ``refresh_margin`` seconds before it expires."""

    def __init__(self, *, credential: TokenCredential, refresh_margin: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._credential = credential
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._token.expires_on - self._margin <= self._clock():
                self._token = self._credential.get_token(AZURE_POSTGRES_SCOPE)
                _log.info("face index: new Entra token for PostgreSQL, valid until %s", self._token.expires_on)
            return self._token.token


class ConnectionPool:
    """A few long-lived connections shared by the threads of a worker; a broken one is replaced."""

    def __init__(self, *, conninfo: str, password: Callable[[], str] | None = None, size: int = 4,
                 connect: Callable[..., psycopg.Connection[Any]] = psycopg.connect) -> None:
        self._conninfo = conninfo
        self._password = password
        self._connect = connect
        self._idle: list[psycopg.Connection[Any]] = []
        self._slots = threading.BoundedSemaphore(max(1, size))
        self._lock = threading.Lock()

    def open(self) -> psycopg.Connection[Any]:
        """A new connection (a fresh token as its password when one is needed)."""
        extra: dict[str, Any] = {"password": self._password()} if self._password is not None else {}
        return self._connect(self._conninfo, autocommit=True, **extra)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._slots:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = self.open()
            try:
                yield conn
            except psycopg.OperationalError:
                conn.close()
                raise
            finally:  # a statement that failed leaves an autocommit connection usable
                if not conn.closed:
                    with self._lock:
                        self._idle.append(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
