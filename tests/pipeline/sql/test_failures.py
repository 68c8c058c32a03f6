"""A server that is down, a wrong password, a lost connection: RetryableError, then recovery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyodbc
import pytest

from pipeline.errors import ClassifierError, ConfigurationError, RetryableError
from pipeline.host.azurite import free_port
from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.writer import OutputWriter
from tests.pipeline.sql.conftest import create_pg_database
from tests.pipeline.sql.helpers import job_message
from tests.support.pgserver import PostgresServer, start_postgres

pytestmark = pytest.mark.sql


def backend_pid(database: Database) -> int:
    def work(cursor: Cursor, dialect: Dialect) -> int:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])

    return database.run(work)


def test_a_server_that_is_down_gives_a_retryable_error_naming_the_engine(postgres: PostgresServer) -> None:
    port = free_port()  # nothing listens there
    database = Database(connection_string=postgres.odbc_connection_string(port=port))

    with pytest.raises(RetryableError) as raised:
        OutputWriter(database=database).write(job_message("job-1"))

    message = str(raised.value)
    assert message.startswith(f"PostgreSQL at 127.0.0.1:{port}/{postgres.database}: cannot connect: ")
    assert "refused" in message.lower()
    assert postgres.password not in message


def test_a_wrong_password_gives_a_retryable_error_without_any_password(postgres: PostgresServer) -> None:
    wrong = "Wr0ng-pässword;x"
    database = Database(connection_string=postgres.odbc_connection_string(password=wrong))

    with pytest.raises(RetryableError) as raised:
        database.dialect()

    message = str(raised.value)
    assert "PostgreSQL" in message
    assert "password authentication failed" in message
    assert wrong not in message and postgres.password not in message
    assert "Pwd" not in message


def test_an_unusable_sqlite_file_through_odbc_gives_a_clear_error() -> None:
    database = Database(connection_string="Driver={SQLite3};Database=/nonexistent-dir/sub/x.db;")
    with pytest.raises((RetryableError, ClassifierError)) as raised:
        database.dialect()
    assert str(raised.value).startswith("SQLite at /nonexistent-dir/sub/x.db: ")


def test_the_connection_is_reused_across_jobs(postgres: PostgresServer) -> None:
    database = Database(connection_string=create_pg_database(postgres))
    writer = OutputWriter(database=database)
    writer.write(job_message("job-1"))
    pid = backend_pid(database)
    writer.write(job_message("job-2"))
    assert backend_pid(database) == pid
    database.close()


def test_a_dropped_connection_is_reopened_at_once(postgres: PostgresServer) -> None:
    connection_string = create_pg_database(postgres)
    database = Database(connection_string=connection_string)
    writer = OutputWriter(database=database)
    writer.write(job_message("job-1"))
    pid = backend_pid(database)

    admin = pyodbc.connect(connection_string, autocommit=True)
    admin.execute("SELECT pg_terminate_backend(?)", pid)  # as a failover or an idle timeout would
    admin.close()

    writer.write(job_message("job-2"))
    assert backend_pid(database) != pid
    database.close()


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


def test_an_outage_fails_retryably_and_the_next_delivery_after_it_succeeds(own_server: PostgresServer) -> None:
    database = Database(connection_string=own_server.odbc_connection_string())
    writer = OutputWriter(database=database)
    writer.write(job_message("job-1"))

    own_server.pause()
    with pytest.raises(RetryableError) as raised:
        writer.write(job_message("job-2"))
    assert str(raised.value).startswith(f"PostgreSQL at 127.0.0.1:{own_server.port}/imaginem: ")
    assert own_server.password not in str(raised.value)

    own_server.resume()
    assert writer.write(job_message("job-2")).labels == 0
    database.close()


def test_a_statement_error_is_not_retryable(engine_database: Database) -> None:
    def broken(cursor: Cursor, dialect: Dialect) -> None:
        cursor.execute("SELECT no_such_column FROM pipeline_output")

    with pytest.raises(ClassifierError) as raised:
        engine_database.run(broken)
    assert not isinstance(raised.value, RetryableError)
    # The failed statement did not poison the worker's next job.
    OutputWriter(database=engine_database).write(job_message("job-1"))


@pytest.fixture
def engine_database(database: Database) -> Database:
    return database


def test_an_embedded_file_that_cannot_be_created_is_a_retryable_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    database = Database(sqlite_path=blocker / "imaginem.db")
    with pytest.raises(RetryableError) as raised:
        database.dialect()
    assert str(raised.value).startswith(f"SQLite (embedded) at {blocker / 'imaginem.db'}: cannot connect: ")


def test_a_driver_that_is_not_installed_is_named_in_the_error() -> None:
    database = Database(connection_string="Driver={No Such Driver 99};Server=db.example.net;Pwd={pw-secret};")
    with pytest.raises(ConfigurationError) as raised:
        database.dialect()
    message = str(raised.value)
    assert message.startswith("ODBC driver 'No Such Driver 99' at db.example.net: cannot connect: ")
    assert "pw-secret" not in message
