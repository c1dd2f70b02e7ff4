"""POST /v1/files and GET /v1/files/{id}: sniffed types, limits, dedupe, and files served to their shop only."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

from lanjie.files import file_id
from tests.files.conftest import LIMIT, FilesApi
from tests.files.samples import JPEG, PDF, png


def test_multipart_upload_answers_201_with_the_sniffed_type_and_download_streams_it_back(files_api: FilesApi) -> None:
    api, photo = files_api, png()
    sha = hashlib.sha256(photo).hexdigest()
    r = api.client.post("/v1/files", files={"file": ("破损 1.png", photo, "image/png")},
                        headers=api.a.headers("upload-0000000001"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body == {"id": file_id(api.a.shop_id, sha), "sha256": sha, "media_type": "image/png", "size": len(photo),
                    "name": "破损 1.png", "created_at": body["created_at"]}
    assert api.stored() == [f"{sha[:2]}/{sha[2:4]}/{sha}"]

    got = api.client.get(f"/v1/files/{body['id']}", headers=api.a.headers())
    assert got.status_code == 200
    assert got.content == photo
    assert (got.headers["content-type"], got.headers["cache-control"], got.headers["x-content-type-options"],
            got.headers["etag"]) == ("image/png", "private, max-age=86400", "nosniff", f'"{sha}"')


def test_raw_body_upload_takes_its_type_from_the_bytes_not_the_header(files_api: FilesApi) -> None:
    api = files_api
    r = api.client.post("/v1/files?name=invoice.pdf", content=png(),
                        headers=api.a.headers("upload-0000000002", **{"Content-Type": "application/pdf"}))
    assert r.status_code == 201, r.text
    assert (r.json()["media_type"], r.json()["name"]) == ("image/png", "invoice.pdf")
    [row] = api.rows()
    assert (row.media_type, row.name, row.size) == ("image/png", "invoice.pdf", len(png()))


def test_the_same_bytes_again_answer_200_with_the_same_file_and_nothing_new(files_api: FilesApi) -> None:
    api = files_api
    first = api.client.post("/v1/files", content=PDF, headers=api.a.headers("upload-0000000003",
                                                                            **{"Content-Type": "application/pdf"}))
    again = api.client.post("/v1/files", files={"file": ("other-name.pdf", PDF, "application/pdf")},
                            headers=api.a.headers("upload-0000000004"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(api.rows()) == 1
    assert len(api.stored()) == 1


def test_a_retry_with_the_same_key_is_replayed_even_with_a_new_multipart_boundary(files_api: FilesApi) -> None:
    api = files_api
    answers = [api.client.post("/v1/files", files={"file": ("a.jpg", JPEG, "image/jpeg")},
                               headers=api.a.headers("upload-0000000005")) for _ in range(2)]
    assert [r.status_code for r in answers] == [201, 201]
    assert answers[1].headers.get("idempotent-replayed") == "true"
    assert answers[1].json() == answers[0].json()


def test_another_shop_gets_404_for_a_file_and_its_own_copy_for_the_same_bytes(files_api: FilesApi) -> None:
    api = files_api
    mine = api.client.post("/v1/files", content=PDF, headers=api.a.headers("upload-0000000006",
                                                                           **{"Content-Type": "application/pdf"}))
    theirs = api.client.get(f"/v1/files/{mine.json()['id']}", headers=api.b.headers())
    assert theirs.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    assert PDF not in theirs.content
    own = api.client.post("/v1/files", content=PDF, headers=api.b.headers("upload-0000000007",
                                                                          **{"Content-Type": "application/pdf"}))
    assert own.status_code == 201
    assert own.json()["id"] != mine.json()["id"]
    assert sorted(r.shop_id for r in api.rows()) == sorted([api.a.shop_id, api.b.shop_id])
    assert len(api.stored()) == 1  # the bytes are stored once for both shops


def test_an_unknown_or_malformed_file_id_is_404(files_api: FilesApi) -> None:
    api = files_api
    for missing in ("ef_" + "0" * 32, "..%2F..%2Fetc%2Fpasswd", "ef_NOT-AN-ID"):
        assert api.client.get(f"/v1/files/{missing}", headers=api.a.headers()).status_code == 404


def test_a_file_over_the_limit_is_413_naming_the_limit_and_nothing_is_written(files_api: FilesApi) -> None:
    api = files_api
    big = PDF + b"0" * LIMIT
    raw = api.client.post("/v1/files", content=big,
                          headers=api.a.headers("upload-0000000008", **{"Content-Type": "application/pdf"}))
    form = api.client.post("/v1/files", files={"file": ("big.pdf", big, "application/pdf")},
                           headers=api.a.headers("upload-0000000018"))
    huge = api.client.post("/v1/files", files={"file": ("huge.pdf", big + b"0" * 20_000, "application/pdf")},
                           headers=api.a.headers("upload-0000000019"))
    for r in (raw, form, huge):
        assert r.status_code == 413, r.text
        assert {k: r.json()[k] for k in ("type", "limit", "max_bytes", "field")} == {
            "type": "/problems/file-too-large", "limit": "max_bytes", "max_bytes": LIMIT, "field": "file"}
    assert (api.rows(), api.stored()) == ([], [])


def test_a_body_over_the_limit_without_content_length_is_413(files_api: FilesApi) -> None:
    api = files_api

    def chunked():  # type: ignore[no-untyped-def]
        yield PDF
        for _ in range(LIMIT // 1024 + 1):
            yield b"0" * 1024

    r = api.client.post("/v1/files", content=chunked(),
                        headers=api.a.headers("upload-0000000009", **{"Content-Type": "application/pdf"}))
    assert r.status_code == 413
    assert (api.rows(), api.stored()) == ([], [])


def test_a_file_of_no_allowed_type_is_415_naming_the_allowed_types(files_api: FilesApi) -> None:
    api = files_api
    r = api.client.post("/v1/files", files={"file": ("x.png", b"<svg onload=alert(1)>", "image/png")},
                        headers=api.a.headers("upload-0000000010"))
    assert r.status_code == 415
    assert {k: r.json()[k] for k in ("type", "limit", "allowed")} == {
        "type": "/problems/unsupported-file-type", "limit": "media_type",
        "allowed": ["image/jpeg", "image/png", "image/webp", "application/pdf"]}
    assert (api.rows(), api.stored()) == ([], [])


def test_an_empty_file_is_422_and_a_form_without_the_file_field_too(files_api: FilesApi) -> None:
    api = files_api
    empty = api.client.post("/v1/files", content=b"", headers=api.a.headers("upload-0000000011",
                                                                            **{"Content-Type": "image/png"}))
    no_field = api.client.post("/v1/files", files={"photo": ("a.png", png(), "image/png")},
                               headers=api.a.headers("upload-0000000012"))
    assert (empty.status_code, empty.json()["type"]) == (422, "/problems/empty-file")
    assert (no_field.status_code, no_field.json()["field"]) == (422, "file")
    assert (api.rows(), api.stored()) == ([], [])


def test_upload_needs_the_shop_key_and_an_idempotency_key(files_api: FilesApi) -> None:
    api = files_api
    anonymous = api.client.post("/v1/files", content=PDF, headers={"Content-Type": "application/pdf",
                                                                    "Idempotency-Key": "upload-0000000013"})
    keyless = api.client.post("/v1/files", content=PDF, headers=api.a.headers(**{"Content-Type": "application/pdf"}))
    assert (anonymous.status_code, keyless.status_code) == (401, 400)
    assert keyless.json()["field"] == "Idempotency-Key"
    assert (api.rows(), api.stored()) == ([], [])


def test_a_path_in_the_uploaded_name_is_dropped_and_never_reaches_the_store(files_api: FilesApi) -> None:
    api = files_api
    r = api.client.post("/v1/files", files={"file": ("../../etc/cron.d/x.pdf", PDF, "application/pdf")},
                        headers=api.a.headers("upload-0000000014"))
    assert (r.status_code, r.json()["name"]) == (201, "x.pdf")
    sha = hashlib.sha256(PDF).hexdigest()
    assert api.stored() == [f"{sha[:2]}/{sha[2:4]}/{sha}"]


def test_concurrent_uploads_of_the_same_bytes_make_one_file_and_the_others_learn_it(files_api: FilesApi) -> None:
    api = files_api
    keys = [f"upload-race-{i:08d}" for i in range(4)]

    def send(key: str) -> int:
        return api.client.post("/v1/files", content=JPEG, headers=api.a.headers(
            key, **{"Content-Type": "image/jpeg"})).status_code

    with ThreadPoolExecutor(4) as pool:
        first = list(pool.map(send, keys))
    assert first.count(201) == 1 and set(first) <= {200, 201, 409}, first
    again = [send(k) for k in keys]  # a 409 released its key: the retry gets a definite answer
    assert [s for f, s in zip(first, again, strict=True) if f == 409] == [200] * first.count(409)
    assert len(api.rows()) == 1
