"""How images reach the cloud: URL, SAS URL or bytes."""

from __future__ import annotations

import pytest
import requests

from classifiers.backends.azure.transfer import VISION_LIMITS, Transfer, is_private_url
from pipeline.services import Services
from tests.classifiers.backends.azure.helpers import make_image


@pytest.mark.parametrize(("url", "private"), [
    ("http://127.0.0.1:10000/devstoreaccount1/images/a.jpg", True),
    ("http://localhost:7071/a.jpg", True),
    ("http://azurite:10000/devstoreaccount1/a.jpg", True),
    ("http://10.1.2.3/a.jpg", True),
    ("http://192.168.1.20/a.jpg", True),
    ("http://[::1]/a.jpg", True),
    ("http://printer.local/a.jpg", True),
    ("https://upload.wikimedia.org/a.jpg", False),
    ("https://acct.blob.core.windows.net/images/a.jpg", False),
    ("http://8.8.8.8/a.jpg", False),
])
def test_is_private_url(url: str, private: bool) -> None:
    assert is_private_url(url) is private


@pytest.mark.azurite
def test_the_sas_url_reads_a_private_blob_and_the_plain_url_does_not(services: Services, unique: str) -> None:
    data = make_image().data
    url = services.storage.upload_blob(f"sas{unique}", "folder/a b.jpg", data, content_type="image/jpeg")
    transfer = Transfer(storage=services.storage)
    assert transfer.reachable_url(url) is None  # Azurite is on loopback: the cloud gets bytes
    container, blob = services.storage.blob_path(url) or ("", "")
    sas = transfer.sas_url(url, container, blob)
    assert sas is not None and "sp=r" in sas
    assert requests.get(url, timeout=10).status_code != 200
    answer = requests.get(sas, timeout=10)
    assert answer.status_code == 200 and answer.content == data


def test_a_fitting_image_on_loopback_goes_as_its_own_bytes() -> None:
    image = make_image()
    payload = Transfer(storage=None).payload(image, VISION_LIMITS)
    assert payload.url is None and payload.data is image.data and payload.scale == 1.0
