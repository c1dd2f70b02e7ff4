"""The S3-compatible file store, against botocore's Stubber: the exact calls, no network."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore.response import StreamingBody
from botocore.session import get_session
from botocore.stub import Stubber

from lanjie.files.store import CorruptFile, MissingFile, S3FileStore, key_for, store_from_settings
from lanjie.settings import Settings
from tests.files.samples import PDF

BUCKET, PREFIX = "evidence", "lanjie/"
SHA = hashlib.sha256(PDF).hexdigest()
KEY = key_for(SHA)
NAME = f"{PREFIX}{SHA[:2]}/{SHA[2:4]}/{SHA}"
WHERE = {"Bucket": BUCKET, "Key": NAME}


@pytest.fixture
def s3() -> Iterator[tuple[S3FileStore, Stubber]]:
    client = get_session().create_client("s3", region_name="us-east-1", aws_access_key_id="test",
                                         aws_secret_access_key="test")
    with Stubber(client) as stubber:
        yield S3FileStore(BUCKET, prefix=PREFIX, client=client), stubber
        stubber.assert_no_pending_responses()


def _body(data: bytes) -> dict[str, Any]:
    return {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentLength": len(data)}


def test_new_bytes_are_put_under_the_prefix_and_their_hash_refusing_to_overwrite(s3: Any) -> None:
    store, stubber = s3
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404, expected_params=WHERE)
    stubber.add_response("put_object", {"ETag": '"e"'}, expected_params={**WHERE, "Body": PDF, "IfNoneMatch": "*"})
    assert store.put(PDF) == KEY


def test_bytes_already_in_the_bucket_are_not_put_again(s3: Any) -> None:
    store, stubber = s3
    stubber.add_response("head_object", {"ContentLength": len(PDF)}, expected_params=WHERE)
    assert store.put(PDF) == KEY


def test_an_object_that_appeared_meanwhile_counts_as_stored(s3: Any) -> None:
    store, stubber = s3
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404, expected_params=WHERE)
    stubber.add_client_error("put_object", service_error_code="PreconditionFailed", http_status_code=412)
    assert store.put(PDF) == KEY


def test_other_s3_errors_are_not_hidden(s3: Any) -> None:
    store, stubber = s3
    stubber.add_client_error("head_object", service_error_code="403", http_status_code=403, expected_params=WHERE)
    with pytest.raises(botocore.exceptions.ClientError):
        store.put(PDF)


def test_reading_checks_the_bytes_against_their_key(s3: Any) -> None:
    store, stubber = s3
    stubber.add_response("get_object", _body(PDF), expected_params=WHERE)
    stubber.add_response("get_object", _body(PDF + b"tampered"), expected_params=WHERE)
    assert store.read(KEY) == PDF
    with pytest.raises(CorruptFile):
        store.read(KEY)


def test_chunks_stream_the_object(s3: Any) -> None:
    store, stubber = s3
    stubber.add_response("get_object", _body(PDF), expected_params=WHERE)
    assert b"".join(store.chunks(KEY)) == PDF


def test_a_missing_object_is_missing_file(s3: Any) -> None:
    store, stubber = s3
    stubber.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404, expected_params=WHERE)
    with pytest.raises(MissingFile):
        store.read(KEY)


def test_a_key_not_made_by_the_store_makes_no_request(s3: Any) -> None:
    store, _ = s3
    with pytest.raises(ValueError, match="not a file store key"):
        store.read("../" + KEY)


def test_settings_choose_the_s3_store_with_its_bucket_and_prefix(tmp_path: Path) -> None:

    class S3Settings(Settings):
        file_store: str = "s3"
        s3_bucket: str = BUCKET
        s3_prefix: str = PREFIX
        s3_endpoint_url: str = "http://127.0.0.1:9000"
        s3_region: str = "us-east-1"

    store = store_from_settings(S3Settings(data_dir=tmp_path))
    assert isinstance(store, S3FileStore)
    assert (store.bucket, store.prefix, store.client.meta.endpoint_url) == (BUCKET, PREFIX, "http://127.0.0.1:9000")


def test_an_s3_store_without_a_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="bucket"):
        S3FileStore("", client=object())
