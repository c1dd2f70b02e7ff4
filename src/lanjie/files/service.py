"""Evidence files of a shop: a row in ``evidence_files`` for each, the bytes in a FileStore.

Saving checks the limits first (nothing is written for a refused file), puts the bytes in the store,
then writes the row: a row always has its bytes, while bytes whose row never committed are only an
orphan that the same upload later finds again. A shop that uploads the same bytes twice gets the same
file back (deduplicated per shop by SHA-256); two shops uploading the same bytes get two files, each
visible to its own shop only — every read here is by shop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from lanjie.domain.errors import NotFound
from lanjie.files.limits import DEFAULT_MAX_BYTES, check, clean_name
from lanjie.files.store import FileStore
from lanjie.store import tables as t


@dataclass(frozen=True)
class EvidenceFile:
    """One stored file of one shop (a photo of the parcel, an invoice, a form)."""

    id: str
    shop_id: str
    sha256: str
    media_type: str  # sniffed from the bytes, never the client's word
    size: int
    name: str
    storage_key: str
    created_at: datetime


@dataclass(frozen=True)
class Upload:
    """Bytes that passed the limits, ready to be stored."""

    data: bytes
    sha256: str
    media_type: str
    name: str

    @property
    def size(self) -> int:
        return len(self.data)


def file_id(shop_id: str, sha256: str) -> str:
    """The id of a shop's file: derived from the shop and the content, so one shop's id says nothing of
    another's, and the same bytes uploaded again by the same shop find the same file."""
    return "ef_" + hashlib.sha256(f"{shop_id}\n{sha256}".encode()).hexdigest()[:32]


def accept(data: bytes, *, name: str = "", declared: str = "", max_bytes: int = DEFAULT_MAX_BYTES) -> Upload:
    """Bytes checked against the limits (FileRejected when they fail), with their hash and sniffed type."""
    media_type = check(data, max_bytes=max_bytes, declared=declared)
    return Upload(data=data, sha256=hashlib.sha256(data).hexdigest(), media_type=media_type, name=clean_name(name))


def _file(row: sa.Row[Any]) -> EvidenceFile:
    return EvidenceFile(id=row.id, shop_id=row.shop_id, sha256=row.sha256, media_type=row.media_type, size=row.size,
                        name=row.name, storage_key=row.storage_key, created_at=row.created_at)


def find(conn: sa.Connection, *, shop_id: str, sha256: str) -> EvidenceFile | None:
    """The shop's file with these bytes, if it has one."""
    f = t.evidence_files
    row = conn.execute(sa.select(f).where(f.c.shop_id == shop_id, f.c.sha256 == sha256)).first()
    return _file(row) if row else None


def get(conn: sa.Connection, *, shop_id: str, file_id: str) -> EvidenceFile | None:
    """One of the shop's files by id (another shop's file is None)."""
    f = t.evidence_files
    row = conn.execute(sa.select(f).where(f.c.shop_id == shop_id, f.c.id == file_id)).first()
    return _file(row) if row else None


def files_of(conn: sa.Connection, *, shop_id: str, ids: Iterable[str]) -> list[EvidenceFile]:
    """The shop's files among ``ids``, in the order given (ids the shop does not have are left out)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    f = t.evidence_files
    found = {r.id: _file(r) for r in conn.execute(sa.select(f).where(f.c.shop_id == shop_id, f.c.id.in_(wanted)))}
    return [found[i] for i in wanted if i in found]


def record(conn: sa.Connection, *, shop_id: str, upload: Upload, storage_key: str,
           now: datetime) -> tuple[EvidenceFile, bool]:
    """The row for stored bytes: the shop's existing file with the same hash (False), or a new one (True)."""
    existing = find(conn, shop_id=shop_id, sha256=upload.sha256)
    if existing is not None:
        return existing, False
    new = EvidenceFile(id=file_id(shop_id, upload.sha256), shop_id=shop_id, sha256=upload.sha256,
                       media_type=upload.media_type, size=upload.size, name=upload.name, storage_key=storage_key,
                       created_at=now)
    conn.execute(t.evidence_files.insert().values(
        id=new.id, shop_id=shop_id, sha256=new.sha256, media_type=new.media_type, size=new.size, name=new.name,
        storage_key=new.storage_key, created_at=now))
    return new, True


def save(engine: sa.Engine, store: FileStore, *, shop_id: str, data: bytes, now: datetime, name: str = "",
         declared: str = "", max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[EvidenceFile, bool]:
    """Check, store and record a file in its own transaction (the CLI, jobs and tests; the API goes through
    its idempotency key); answers the file and whether it is new."""
    upload = accept(data, name=name, declared=declared, max_bytes=max_bytes)
    key = store.put(upload.data)
    try:
        with engine.begin() as conn:
            return record(conn, shop_id=shop_id, upload=upload, storage_key=key, now=now)
    except sa.exc.IntegrityError:  # the same bytes saved at the same moment by another request
        with engine.connect() as conn:
            existing = find(conn, shop_id=shop_id, sha256=upload.sha256)
        if existing is None:
            raise
        return existing, False


def read(conn: sa.Connection, store: FileStore, *, shop_id: str, file_id: str) -> tuple[EvidenceFile, bytes]:
    """A file of the shop and its bytes (checked against their hash); NotFound for anyone else's."""
    found = get(conn, shop_id=shop_id, file_id=file_id)
    if found is None:
        raise NotFound("file", file_id)
    return found, store.read(found.storage_key)
