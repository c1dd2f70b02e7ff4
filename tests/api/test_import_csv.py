"""POST /v1/aftersales/import: a CSV export as the raw body or a multipart upload, a result per row."""

from __future__ import annotations

from typing import Any

from lanjie.service.csv_rows import MAX_BYTES, MAX_ROWS
from tests.api.conftest import Api
from tests.e2e.live import shipment_body

URL = "/v1/aftersales/import"
FILE = ("售后单号,订单号,售后类型,退款金额,运单号,备注\r\n"
        "PDD-1,A-1,已发货仅退款,59.00,ZT500000001,\r\n"
        "PDD-2,A-2,已发货仅退款,12.345,ZT500000002,\r\n"
        "PDD-3,A-3,退货退款,10,,急\r\n").encode("gbk")


def _ship(api: Api, waybill: str, order: str, tenant: Any = None) -> None:
    tenant = tenant or api.a
    r = api.client.post("/v1/shipments", json=shipment_body(waybill, order),
                        headers=tenant.headers(f"ship-{waybill}-00001"))
    assert r.status_code == 201, r.text


def _post(api: Api, key: str | None, content: bytes = FILE, *, query: str = "?platform=pdd",
          headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    sent = {**api.a.headers(key), "Content-Type": "text/csv", **(headers or {})}
    if "files" in kwargs:
        del sent["Content-Type"]
        return api.client.post(URL + query, headers=sent, **kwargs)
    return api.client.post(URL + query, headers=sent, content=content, **kwargs)


def _case_ids(api: Api) -> dict[str, str]:
    items = api.client.get("/v1/aftersales", headers=api.a.headers()).json()["items"]
    return {i["channel_ref"]: i["id"] for i in items if i["channel"] == "pdd"}


def test_a_raw_csv_body_opens_a_case_per_good_row_and_answers_a_result_per_row(api: Api) -> None:
    _ship(api, "ZT500000001", "A-1")
    r = _post(api, "import-raw-000000001")
    assert r.status_code == 200, r.text
    ids = _case_ids(api)
    assert sorted(ids) == ["PDD-1", "PDD-3"]
    assert r.json() == {
        "summary": {"rows": 3, "created": 2, "exists": 0, "failed": 1, "ignored_columns": ["备注"]},
        "rows": [
            {"row": 2, "aftersale_id": "PDD-1", "status": "created", "case_id": ids["PDD-1"], "field": None,
             "error": None},
            {"row": 3, "aftersale_id": "PDD-2", "status": "failed", "case_id": None, "field": "refund_yuan",
             "error": "退款金额: '12.345' has more than 2 decimals"},
            {"row": 4, "aftersale_id": "PDD-3", "status": "created", "case_id": ids["PDD-3"], "field": None,
             "error": None},
        ]}
    case = api.client.get(f"/v1/aftersales/{ids['PDD-1']}", headers=api.a.headers()).json()
    assert (case["type"], case["refund_fen"], [p["waybill_no"] for p in case["parcels"]]) == (
        "refund_only_shipped", 5900, ["ZT500000001"])


def test_a_multipart_upload_imports_the_same_and_a_resend_with_a_new_boundary_replays(api: Api) -> None:
    _ship(api, "ZT500000001", "A-1")
    first = _post(api, "import-multipart-001", files={"file": ("售后.csv", FILE, "text/csv")})
    assert first.status_code == 200, first.text
    assert first.json()["summary"] == {"rows": 3, "created": 2, "exists": 0, "failed": 1, "ignored_columns": ["备注"]}
    before = api.counts()
    again = _post(api, "import-multipart-001", files={"file": ("renamed.csv", FILE, "application/vnd.ms-excel")})
    assert (again.status_code, again.headers.get("idempotent-replayed"), again.json()) == (200, "true", first.json())
    assert api.counts() == before


def test_accept_text_csv_answers_the_result_file_itself(api: Api) -> None:
    _ship(api, "ZT500000001", "A-1")
    r = _post(api, "import-csv-answer-01", headers={"Accept": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="import-result.csv"'
    ids = _case_ids(api)
    assert r.content == ("\ufeffrow,aftersale_id,status,case_id,field,error\r\n"
                         f"2,PDD-1,created,{ids['PDD-1']},,\r\n"
                         "3,PDD-2,failed,,refund_yuan,退款金额: '12.345' has more than 2 decimals\r\n"
                         f"4,PDD-3,created,{ids['PDD-3']},,\r\n").encode()
    replay = _post(api, "import-csv-answer-01", headers={"Accept": "text/csv, application/json"})
    assert (replay.content, replay.headers["idempotent-replayed"]) == (r.content, "true")
    as_json = _post(api, "import-csv-answer-01")
    assert [row["status"] for row in as_json.json()["rows"]] == ["created", "failed", "created"]


def test_importing_again_with_a_new_key_reports_exists(api: Api) -> None:
    _ship(api, "ZT500000001", "A-1")
    first = _post(api, "import-again-0000001").json()
    before = api.counts()
    second = _post(api, "import-again-0000002").json()
    assert [(r["status"], r["case_id"]) for r in second["rows"]] == [
        ("exists", first["rows"][0]["case_id"]), ("failed", None), ("exists", first["rows"][2]["case_id"])]
    after = api.counts()
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"idempotency_keys": 1}


def test_the_same_key_with_another_file_or_platform_is_refused(api: Api) -> None:
    assert _post(api, "import-reuse-0000001").status_code == 200
    other = _post(api, "import-reuse-0000001", FILE + b"PDD-4,A-4,exchange,1,,\r\n")
    assert (other.status_code, other.json()["type"]) == (422, "/problems/idempotency-key-reused")
    platform = _post(api, "import-reuse-0000001", query="?platform=kuaishou")
    assert (platform.status_code, platform.json()["type"]) == (422, "/problems/idempotency-key-reused")


def _refused(r: Any, status: int, type_: str) -> dict[str, Any]:
    assert (r.status_code, r.headers["content-type"]) == (status, "application/problem+json"), r.text
    body: dict[str, Any] = r.json()
    assert body["type"] == type_
    return body


def test_files_that_cannot_be_imported_are_refused_naming_why_and_write_nothing(api: Api) -> None:
    before = api.counts()
    empty = _refused(_post(api, "import-bad-000000001", b""), 422, "/problems/import-file")
    assert (empty["field"], empty["detail"]) == ("file", "the file is empty")
    no_header = _refused(_post(api, "import-bad-000000002", b"PDD-1,A-1,exchange,1\n"), 422, "/problems/import-file")
    assert no_header["field"] == "header"
    missing = _refused(_post(api, "import-bad-000000003", "售后单号,售后类型,退款金额\nP,换货,1\n".encode()), 422,
                       "/problems/import-file")
    assert (missing["field"], missing["detail"]) == ("order_id", "missing column order_id (or 订单号/订单编号)")
    no_platform = _refused(_post(api, "import-bad-000000004", query=""), 422, "/problems/import-file")
    assert no_platform["field"] == "platform"
    bad_platform = _refused(_post(api, "import-bad-000000005", query="?platform=douyin"), 422,
                            "/problems/invalid-request")
    assert bad_platform["errors"][0]["field"] == "query.platform"
    no_part = _refused(_post(api, "import-bad-000000006", files={"upload": ("a.csv", FILE, "text/csv")}), 422,
                       "/problems/import-file-missing")
    assert no_part["field"] == "file"
    no_key = _refused(_post(api, None), 400, "/problems/idempotency-key-missing")
    assert no_key["field"] == "Idempotency-Key"
    assert api.counts() == before


def test_more_than_the_limits_is_refused_as_too_large_before_anything_is_written(api: Api) -> None:
    before = api.counts()
    big = _refused(_post(api, "import-big-000000001", b"aftersale_id\n" + b" " * MAX_BYTES), 413,
                   "/problems/import-too-large")
    assert (big["limit_bytes"], big["limit_rows"]) == (MAX_BYTES, MAX_ROWS)
    big_part = _refused(_post(api, "import-big-000000002", files={"file": ("a.csv", b" " * (MAX_BYTES + 1))}), 413,
                        "/problems/import-too-large")
    assert big_part["detail"] == f"the file is {MAX_BYTES + 1} bytes; the limit is {MAX_BYTES} bytes (5 MB)"
    rows = "".join(f"P{i},A,exchange,1\n" for i in range(MAX_ROWS + 1))
    many = _refused(_post(api, "import-big-000000003", f"aftersale_id,order_id,type,refund_fen\n{rows}".encode()),
                    413, "/problems/import-too-large")
    assert many["detail"] == "the file has more than 5000 rows; the limit is 5000 rows per import: split it"
    assert api.counts() == before


def test_another_shops_waybill_is_not_found_and_its_cases_stay_its_own(api: Api) -> None:
    _ship(api, "ZT500000001", "A-1", api.b)
    r = _post(api, "import-tenancy-00001")
    assert r.json()["rows"][0] == {"row": 2, "aftersale_id": "PDD-1", "status": "failed", "case_id": None,
                                   "field": "waybill_nos", "error": "waybill ZT500000001 is not registered: register "
                                   "it first (POST /v1/shipments) or give the carrier column"}
    case_id = r.json()["rows"][2]["case_id"]
    assert api.client.get(f"/v1/aftersales/{case_id}", headers=api.b.headers()).status_code == 404
    b_import = api.client.post(URL + "?platform=pdd", content=FILE, headers={
        **api.b.headers("import-tenancy-00002"), "Content-Type": "text/csv"}).json()
    assert [row["status"] for row in b_import["rows"]] == ["created", "failed", "created"]  # B's own PDD-3


def test_the_openapi_description_documents_both_uploads_the_csv_answer_and_413(api: Api) -> None:
    op = api.client.get("/openapi.json").json()["paths"][URL]["post"]
    assert set(op["requestBody"]["content"]) == {"text/csv", "multipart/form-data"}
    assert set(op["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert {"400", "401", "404", "409", "413", "422"} <= set(op["responses"])
    assert sorted(p["name"] for p in op["parameters"]) == ["Idempotency-Key", "platform"]
