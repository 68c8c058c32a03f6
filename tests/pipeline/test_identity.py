"""Identity-based storage (AzureWebJobsStorage__accountName, no key): every client is built from the injected
token credential, sends it as a bearer token, and the Azure backends' image hand-off signs with a
user-delegation key. Against a loopback HTTPS stub answering with the documented REST shapes."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken

from classifiers.backends.azure.transfer import Transfer
from pipeline.settings import Settings
from pipeline.storage import Storage

ACCOUNT = "imaginemtest"
TOKEN = "fake-token-for-tests"
_DELEGATION_KEY = """<?xml version="1.0" encoding="utf-8"?><UserDelegationKey>
<SignedOid>00000000-0000-0000-0000-000000000001</SignedOid><SignedTid>00000000-0000-0000-0000-000000000002</SignedTid>
<SignedStart>2026-01-01T00:00:00Z</SignedStart><SignedExpiry>2026-01-01T02:00:00Z</SignedExpiry>
<SignedService>b</SignedService><SignedVersion>2025-01-05</SignedVersion><Value>a2V5a2V5a2V5a2V5</Value>
</UserDelegationKey>"""


class FakeCredential:
    """A stand-in for Azure's identity service: hands out a fixed token and counts the requests."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(TOKEN, 4_102_444_800)


@dataclass
class Stub:
    url: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path?query, authorization


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stub]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    seen: list[tuple[str, str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            seen.append((self.command, self.path, self.headers.get("Authorization", "")))
            query = parse_qs(urlsplit(self.path).query)
            if query.get("comp") == ["userdelegationkey"]:
                body, status, kind = _DELEGATION_KEY.encode(), 200, "application/xml"
            elif self.path.endswith("/Tables"):
                body, status, kind = b'{"TableName":"pipelinelogs"}', 201, "application/json;odata=nometadata"
            else:
                body, status, kind = b"", 201, "application/xml"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-ms-request-id", "1")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # requests (the SDKs' transport) trusts the stub
        yield Stub(url=f"https://127.0.0.1:{server.server_address[1]}", requests=seen)
    server.shutdown()
    server.server_close()


def _storage(stub: Stub, credential: FakeCredential) -> Storage:
    settings = Settings.from_env({"AzureWebJobsStorage__accountName": ACCOUNT})
    assert settings.storage_connection_string == "" and settings.storage_account_name == ACCOUNT
    storage = Storage(settings.storage_connection_string, account_name=settings.storage_account_name,
                      credential=credential,
                      service_urls={kind: f"{stub.url}/{ACCOUNT}" for kind in ("blob", "queue", "table")})
    return storage


def test_from_settings_uses_the_public_endpoints_and_the_injected_credential() -> None:
    credential = FakeCredential()
    settings = Settings.from_env({"AzureWebJobsStorage__accountName": ACCOUNT})
    storage = Storage.from_settings(settings, credential=credential)
    assert storage.credential is credential and storage.connection_string == ""
    assert storage.blob_service.url.startswith(f"https://{ACCOUNT}.blob.core.windows.net")
    assert storage.queue_service.url.startswith(f"https://{ACCOUNT}.queue.core.windows.net")
    assert storage.table_service.url.startswith(f"https://{ACCOUNT}.table.core.windows.net")
    for client in (storage.blob_service, storage.queue_service, storage.table_service):
        assert client.credential is credential  # no account key anywhere


def test_every_client_sends_the_token_and_no_key(stub: Stub) -> None:
    credential = FakeCredential()
    storage = _storage(stub, credential)
    stub.requests.clear()
    storage.queue("generalclassification")
    storage.table("pipelinelogs")
    storage.container("faces")
    assert len(stub.requests) == 3
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in stub.requests), stub.requests
    assert set(credential.scopes) == {"https://storage.azure.com/.default"}


def test_image_hand_off_signs_with_a_user_delegation_key(stub: Stub) -> None:
    storage = _storage(stub, FakeCredential())
    now = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    transfer = Transfer(storage=storage, now=lambda: now)
    stub.requests.clear()
    url = f"{stub.url}/{ACCOUNT}/inputimages/b/j.jpg"
    first = transfer.sas_url(url, "inputimages", "b/j.jpg")
    again = transfer.sas_url(url, "inputimages", "b/j.jpg")
    assert first is not None and first == again
    query = parse_qs(urlsplit(first).query)
    assert query["sp"] == ["r"] and query["skoid"] == ["00000000-0000-0000-0000-000000000001"]
    assert "sig" in query and query["sr"] == ["b"]
    # one key request, by token, for both URLs
    assert [(m, urlsplit(p).query, a) for m, p, a in stub.requests] == [
        ("POST", "restype=service&comp=userdelegationkey", f"Bearer {TOKEN}")]

