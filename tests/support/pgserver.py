"""Start a throwaway PostgreSQL server (Debian's postgresql package) for tests and benchmarks.

initdb refuses to run as root, so as root the cluster is owned by and run as ``postgres``
(through ``runuser``); otherwise it runs as the current user. It listens on 127.0.0.1 only,
on a free port, with password (scram) authentication so a wrong password can be tested.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigurationError
from pipeline.host.azurite import free_port

__all__ = ["PostgresServer", "find_pg_bin", "start_postgres"]

_SERVICE_USER = "postgres"


def find_pg_bin() -> Path:
    """The folder with initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise ConfigurationError("PostgreSQL server is not installed: apt-get install postgresql")
    return Path(candidates[-1]).parent


@dataclass
class PostgresServer:
    root: Path
    port: int
    user: str
    password: str
    database: str
    _bin: Path
    _as_user: tuple[str, ...]
    _options: str

    def odbc_connection_string(self, *, password: str | None = None, port: int | None = None) -> str:
        """A pyodbc connection string through psqlODBC (the Unicode driver)."""
        return (
            "Driver={PostgreSQL Unicode};Server=127.0.0.1;"
            f"Port={port or self.port};Database={self.database};"
            f"Uid={self.user};Pwd={{{self.password if password is None else password}}};"
        )

    def pause(self) -> None:
        """Stop the server but keep its data, as an outage would (``resume()`` starts it again)."""
        self._pg_ctl("stop", "-m", "fast", "-w")

    def resume(self) -> None:
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.root / "log"), "-o", self._options)

    def stop(self) -> None:
        """Stop the server and delete its data."""
        self._pg_ctl("stop", "-m", "immediate", "-w", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        done = subprocess.run([*self._as_user, str(self._bin / "pg_ctl"), *args[:1], "-D", str(self.root / "data"),
                               *args[1:]], capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise ConfigurationError(f"pg_ctl {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")


def start_postgres(*, fsync: bool = False, user: str = "imaginem", password: str = "s3cret-Pw",
                   database: str = "imaginem") -> PostgresServer:
    """initdb a new cluster in a temporary folder and start it; ``stop()`` removes it all."""
    pg_bin = find_pg_bin()
    root = Path(tempfile.mkdtemp(prefix="imaginem-pg-"))
    as_user: tuple[str, ...] = ()
    if os.geteuid() == 0:
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        as_user = (runuser, "-u", _SERVICE_USER, "--")
        shutil.chown(root, _SERVICE_USER)
    os.chmod(root, 0o700)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if as_user:
        shutil.chown(pwfile, _SERVICE_USER)
    port = free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise ConfigurationError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")

    run(str(pg_bin / "initdb"), "-D", str(root / "data"), "-U", user, f"--pwfile={pwfile}",
        "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync={'on' if fsync else 'off'}"
    if not fsync:
        options += " -c synchronous_commit=off -c full_page_writes=off"
    server = PostgresServer(root=root, port=port, user=user, password=password, database=database,
                            _bin=pg_bin, _as_user=as_user, _options=options)
    try:
        server.resume()
        run(str(pg_bin / "createdb"), "-h", str(root), "-p", str(port), "-U", user, database)
    except ConfigurationError:
        server.stop()
        raise
    return server
