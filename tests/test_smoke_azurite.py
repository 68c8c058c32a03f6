import pytest

from pipeline.services import Services

pytestmark = pytest.mark.azurite


def test_storage_round_trip(services: Services, unique: str) -> None:
    queue = services.storage.queue(f"smoke{unique}")
    queue.send_message('{"hello": 1}')
    [message] = list(queue.receive_messages())
    assert message.content == '{"hello": 1}'
    table = services.storage.table(f"smoke{unique}")
    table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "x": "y"})
    assert table.get_entity("p", "r")["x"] == "y"
    url = services.storage.upload_blob(f"smoke{unique}", "a/b.txt", b"hi", content_type="text/plain")
    assert services.storage.read_blob_url(url, 10) == b"hi"
