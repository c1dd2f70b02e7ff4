"""Import after-sales from a spreadsheet export (PDD, Kuaishou, WeChat shops): a case per row, a result per row."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.datastructures import UploadFile

from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent, key_of
from lanjie.api.problems import Problem
from lanjie.api.responses import PROBLEMS, Out, ProblemOut
from lanjie.api.uploads import replayed
from lanjie.service import csv_import
from lanjie.service.csv_rows import MAX_BYTES, MAX_ROWS, FileRefused, Platform, result_csv
from lanjie.service.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1/aftersales", tags=["imports"])
Shop = Annotated[str, Depends(current_shop)]

#: Room for the multipart envelope (boundaries, part headers) around a file of the full size.
_ENVELOPE = 64 * 1024
CSV = "text/csv"


class ImportRowOut(Out):
    row: int = Field(description="the file's line number (the header is line 1)")
    aftersale_id: str
    status: Literal["created", "exists", "failed"]
    case_id: str | None = Field(description="the case created, or the one that already existed")
    field: str | None = Field(description="the column at fault when failed")
    error: str | None


class ImportSummaryOut(Out):
    rows: int
    created: int
    exists: int
    failed: int
    ignored_columns: list[str] = Field(description="headers that name no column, as written in the file")


class ImportOut(Out):
    summary: ImportSummaryOut
    rows: list[ImportRowOut] = Field(description="one per data row, in the file's order")


_REQUEST_BODY = {
    "required": True,
    "description": f"the CSV export (UTF-8 or GBK; comma, tab or semicolon; header row required), at most "
                   f"{MAX_ROWS} rows and {MAX_BYTES} bytes: the raw file, or a multipart form with the file in `file`",
    "content": {
        CSV: {"schema": {"type": "string"}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": {"type": "string", "format": "binary"}}}},
    },
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    200: {"description": "a result per row; with `Accept: text/csv`, the result file itself (UTF-8 with BOM)",
          "content": {CSV: {"schema": {"type": "string"}}}},
    413: {"model": ProblemOut, "description": f"more than {MAX_BYTES} bytes or {MAX_ROWS} rows",
          "content": {"application/problem+json": {}}},
}


@router.post("/import", summary="Import after-sales from a CSV export: a case per row, a result per row",
             response_model=ImportOut, responses=_RESPONSES, openapi_extra={"requestBody": _REQUEST_BODY})
async def import_cases(request: Request, shop_id: Shop, _: IdempotencyKey = None,
                       platform: Annotated[Platform | None, Query(
                           description="the platform of rows whose platform column is empty or missing")] = None,
                       ) -> Any:
    key_of(request)  # a missing key is refused before the upload is read
    data = await _file(request)
    container = request.app.state.container

    def parse() -> Any:
        with container.for_shop(shop_id, read_only=True).connect() as conn:
            return csv_import.parse_for_shop(conn, shop_id, data, platform=platform)
    try:
        parsed = await anyio.to_thread.run_sync(parse)
    except FileRefused as refused:
        raise _refusal(refused) from None

    def work(uow: UnitOfWork) -> Any:
        return csv_import.import_rows(uow, shop_id, parsed).as_json()
    # The key's fingerprint covers what the import depends on, the file and the platform, not the
    # multipart envelope: a client resending the same file with a new boundary gets the stored answer.
    identity = json.dumps({"platform": platform, "sha256": hashlib.sha256(data).hexdigest()}).encode()
    answer = await idempotent(request, shop_id, 200, work, on_commit=container.wake, identity=identity)
    if answer.status_code != 200 or not _wants_csv(request.headers.get("accept", "")):
        return answer
    headers = {"Content-Disposition": 'attachment; filename="import-result.csv"'}
    if "idempotent-replayed" in answer.headers:
        headers["Idempotent-Replayed"] = answer.headers["idempotent-replayed"]
    return Response(result_csv(json.loads(answer.body)["rows"]), media_type=f"{CSV}; charset=utf-8", headers=headers)


async def _file(request: Request) -> bytes:
    """The uploaded file's bytes: the raw body, or the ``file`` part of a multipart form; 413 past the limit."""
    multipart = request.headers.get("content-type", "").lower().startswith("multipart/form-data")
    body = await _read(request, MAX_BYTES + (_ENVELOPE if multipart else 0))
    if not multipart:
        return body
    form_request = replayed(request, body)
    async with form_request.form(max_files=1, max_fields=10, max_part_size=MAX_BYTES) as form:
        part = form.get("file")
        if isinstance(part, UploadFile):
            data = await part.read()
        elif isinstance(part, str):
            data = part.encode("utf-8")
        else:
            raise Problem(422, "File missing", "send the CSV in the multipart field `file` (or as the raw body, "
                          "Content-Type: text/csv)", type_="/problems/import-file-missing", field="file")
    if len(data) > MAX_BYTES:
        raise _too_large(f"the file is {len(data)} bytes; the limit is {MAX_BYTES} bytes (5 MB)")
    return data


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(f"the upload is {declared} bytes; the limit is {MAX_BYTES} bytes (5 MB)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(f"the upload is more than {limit} bytes; the limit is {MAX_BYTES} bytes (5 MB)")
        chunks.append(chunk)
    return b"".join(chunks)


def _wants_csv(accept: str) -> bool:
    """True when Accept names text/csv before application/json (q-values are not weighed)."""
    for media in (part.split(";", 1)[0].strip().lower() for part in accept.split(",")):
        if media in (CSV, "application/json"):
            return media == CSV
    return False


def _refusal(refused: FileRefused) -> Problem:
    if refused.too_large:
        return _too_large(refused.detail)
    return Problem(422, "File refused", refused.detail, type_="/problems/import-file", field=refused.field)


def _too_large(detail: str) -> Problem:
    return Problem(413, "Import too large", detail, type_="/problems/import-too-large",
                   limit_bytes=MAX_BYTES, limit_rows=MAX_ROWS)

