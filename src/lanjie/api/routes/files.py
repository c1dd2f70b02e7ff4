"""Evidence files (upload, download to their own shop) and the claim packet (PDF and JSON)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from lanjie import files
from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent, key_of
from lanjie.api.problems import Problem
from lanjie.api.responses import PROBLEMS, ProblemOut
from lanjie.api.uploads import replayed
from lanjie.files.store import FileStore, StoreError, store_from_settings
from lanjie.service import claim_packet
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store.repository import StaleCase

router = APIRouter(tags=["files"])
Shop = Annotated[str, Depends(current_shop)]
#: Room for the multipart envelope (boundaries, part headers) around a file of the largest allowed size.
MULTIPART_SLACK = 16 * 1024
_FILE_ID = re.compile(r"^ef_[0-9a-f]{32}$")
_UPLOAD_BODY = {"content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/webp": {"schema": {"type": "string", "format": "binary"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
}}


class EvidenceFileOut(BaseModel):
    model_config = {"extra": "forbid"}

    id: str
    sha256: str = Field(description="SHA-256 of the bytes, lower-case hex")
    media_type: str = Field(description="sniffed from the bytes: image/jpeg, image/png, image/webp or application/pdf")
    size: int = Field(description="bytes")
    name: str = Field(description="the file name sent, its last path part only")
    created_at: datetime


class ClaimPacketOut(BaseModel):
    """The claim packet (schema lanjie.claim_packet, version 1): amounts in fen, times ISO 8601 UTC."""

    model_config = {"extra": "forbid", "populate_by_name": True}

    schema_name: str = Field(alias="schema", examples=["lanjie.claim_packet"])
    schema_version: int
    generated_at: datetime
    claim: dict[str, Any] = Field(description="carrier, waybill, type, amount_fen and its basis, filing state")
    case: dict[str, Any]
    parcel: dict[str, Any] = Field(description="items and values, insured value, freight, sender, masked recipient")
    tracking: list[dict[str, Any]] = Field(description="newest first")
    intercepts: list[dict[str, Any]]
    carrier_answers: list[dict[str, Any]] = Field(description="the carrier's own answers to the intercept calls")
    inspection: dict[str, Any]
    files: list[dict[str, Any]] = Field(description="the evidence files (GET /v1/files/{id} for the bytes)")
    statement: dict[str, str] = Field(description="zh and en")


def _problem(text: str) -> dict[str, Any]:
    return {"model": ProblemOut, "description": text, "content": {"application/problem+json": {}}}


def file_store(request: Request) -> FileStore:
    """The container's file store; until bootstrap provides one, the store the settings name, made once."""
    container = request.app.state.container
    found: FileStore | None = getattr(container, "files", None) or getattr(request.app.state, "file_store", None)
    if found is None:
        found = request.app.state.file_store = store_from_settings(container.settings)
    return found


def max_bytes(request: Request) -> int:
    return int(getattr(request.app.state.container.settings, "file_max_bytes", files.DEFAULT_MAX_BYTES))


def view(f: files.EvidenceFile) -> dict[str, Any]:
    return {"id": f.id, "sha256": f.sha256, "media_type": f.media_type, "size": f.size, "name": f.name,
            "created_at": f.created_at.isoformat()}


def _too_large(limit: int) -> Problem:
    return Problem(413, "File too large", f"evidence files are limited to {limit} bytes",
                   type_="/problems/file-too-large", field="file", limit="max_bytes", max_bytes=limit)


async def _read_capped(request: Request, cap: int, limit: int) -> bytes:
    """The request body, refused (413, naming the file ``limit``) as soon as it passes ``cap`` bytes — declared
    or not — so an oversized upload is never read whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _file_part(request: Request, body: bytes) -> tuple[bytes, str, str]:
    """(bytes, name, declared type) of the ``file`` part of a multipart body."""
    form = await replayed(request, body).form(max_files=1, max_fields=8)
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise Problem(422, "Invalid request", "send the file in the multipart field 'file'",
                          type_="/problems/invalid-request", field="file")
        return await part.read(), part.filename or "", part.content_type or ""
    finally:
        await form.close()


@router.post("/v1/files", status_code=201, openapi_extra={"requestBody": _UPLOAD_BODY},
             response_model=EvidenceFileOut, response_description="stored",
             summary="Upload an evidence file (JPEG, PNG, WebP or PDF): multipart field 'file', or the raw body",
             responses={**PROBLEMS, 200: {"model": EvidenceFileOut,
                                          "description": "the shop has this file already: the same answer"},
                        413: _problem("larger than the limit (max_bytes names it)"),
                        415: _problem("the bytes are not JPEG, PNG, WebP or PDF (allowed lists them)")})
async def upload(request: Request, shop_id: Shop, _: IdempotencyKey = None,
                 name: Annotated[str, Query(max_length=200, description="file name, for a raw body")] = "") -> Any:
    key_of(request)  # a request without a usable Idempotency-Key is refused before its body is read
    limit = max_bytes(request)
    content_type = request.headers.get("content-type", "")
    multipart = content_type.lower().startswith("multipart/form-data")
    body = await _read_capped(request, limit + (MULTIPART_SLACK if multipart else 0), limit)
    data, declared = body, content_type
    if multipart:
        data, part_name, declared = await _file_part(request, body)
        name = part_name or name
    try:
        accepted = files.accept(data, name=name, declared=declared, max_bytes=limit)
    except files.FileTooLarge:
        raise _too_large(limit) from None
    except files.UnsupportedType as exc:
        raise Problem(415, "Unsupported file type", str(exc), type_="/problems/unsupported-file-type",
                      field="file", limit="media_type", allowed=list(files.ALLOWED_TYPES)) from None
    except files.EmptyFile as exc:
        raise Problem(422, "Empty file", str(exc), type_="/problems/empty-file", field="file") from None
    store = file_store(request)
    storage_key = await anyio.to_thread.run_sync(store.put, accepted.data)  # bytes first: a row always has them

    def known() -> bool:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            return files.find(conn, shop_id=shop_id, sha256=accepted.sha256) is not None

    existed = await anyio.to_thread.run_sync(known)

    def work(uow: UnitOfWork) -> Any:
        found, created = files.record(uow.conn, shop_id=shop_id, upload=accepted, storage_key=storage_key,
                                      now=uow.now)
        if created == existed:  # another request stored the same bytes meanwhile: answer after it
            raise StaleCase(found.id)
        return view(found)

    # The Idempotency-Key's fingerprint is taken over what was uploaded, not over its multipart encoding.
    identity = json.dumps({"sha256": accepted.sha256, "name": accepted.name}).encode()
    return await idempotent(request, shop_id, 200 if existed else 201, work, identity=identity)


@router.get("/v1/files/{file_id}", response_class=Response, responses={
    **PROBLEMS, 200: {"description": "the file's bytes, with its media type",
                      "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in files.ALLOWED_TYPES}},
    500: _problem("the file's bytes are missing from the store or no longer match their hash")},
    summary="Download one of the shop's evidence files")
async def download(file_id: Annotated[str, Path(max_length=80)], request: Request, shop_id: Shop) -> Response:
    def find() -> files.EvidenceFile | None:
        if not _FILE_ID.match(file_id):
            return None
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            return files.get(conn, shop_id=shop_id, file_id=file_id)

    found = await anyio.to_thread.run_sync(find)
    if found is None:
        raise Problem(404, "Not found", f"file {file_id!r} not found", type_="/problems/not-found")
    try:
        chunks = await anyio.to_thread.run_sync(file_store(request).chunks, found.storage_key)
    except StoreError as exc:
        raise Problem(500, "File unavailable", str(exc), type_="/problems/file-unavailable") from None
    return StreamingResponse(chunks, media_type=found.media_type, headers={
        "Content-Length": str(found.size), "Cache-Control": "private, max-age=86400", "ETag": f'"{found.sha256}"',
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'",
        "Content-Disposition": f"inline; filename=\"{found.id}{_EXTENSION[found.media_type]}\""})


_EXTENSION = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "application/pdf": ".pdf"}


def _packet_inputs(request: Request, shop_id: str, claim_id: str) -> claim_packet.PacketInputs:
    with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
        return claim_packet.load(conn, shop_id=shop_id, claim_id=claim_id)


@router.get("/v1/claims/{claim_id}/packet.json", tags=["claims"], responses=PROBLEMS, response_model=ClaimPacketOut,
            summary="The claim packet as JSON (schema lanjie.claim_packet v1): for manual submission")
async def packet_json(claim_id: Annotated[str, Path(max_length=40)], request: Request, shop_id: Shop) -> Any:
    inputs = await anyio.to_thread.run_sync(_packet_inputs, request, shop_id, claim_id)
    body = claim_packet.packet_json(inputs.claim, inputs.case, inputs.shipment, inputs.files,
                                    generated_at=utcnow(), leg=inputs.leg)
    return JSONResponse(body, headers={"Cache-Control": "private, no-cache"})


@router.get("/v1/claims/{claim_id}/packet.pdf", tags=["claims"], response_class=Response,
            responses={**PROBLEMS, 200: {"description": "the claim packet", "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}},
            summary="The claim packet as a PDF (evidence and photos embedded): for manual submission")
async def packet_pdf(claim_id: Annotated[str, Path(max_length=40)], request: Request, shop_id: Shop) -> Response:
    store = file_store(request)

    def build() -> bytes:
        inputs = _packet_inputs(request, shop_id, claim_id)
        contents = claim_packet.image_contents(store, inputs.files)
        return claim_packet.packet_pdf(inputs.claim, inputs.case, inputs.shipment, inputs.files, contents=contents,
                                       generated_at=utcnow(), leg=inputs.leg)

    pdf = await anyio.to_thread.run_sync(build)
    return Response(pdf, media_type="application/pdf", headers={
        "Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f"attachment; filename=\"claim-{claim_id}.pdf\""})
