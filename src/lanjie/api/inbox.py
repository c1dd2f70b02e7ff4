"""Storing an inbound push (carrier or sales platform) in the inbox, once, exactly as received."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi import Request

from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import tables as t

#: Credentials a proxy may add are not kept with the push.
_UNKEPT_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def kept_headers(request: Request) -> dict[str, str]:
    """The request's headers, names lower-cased, as stored with the body (processing verifies again)."""
    return {name.lower(): value for name, value in request.headers.items() if name.lower() not in _UNKEPT_HEADERS}


def store(uow: UnitOfWork, *, shop_id: str, source: str, message_key: str, content_type: str, body: bytes,
          headers: dict[str, str]) -> int | None:
    """Insert the push; its new inbox id, or None when the same message was stored before (a duplicate)."""
    insert = _insert_ignore(uow.conn).values(
        shop_id=shop_id, carrier=source, message_key=message_key, content_type=content_type, body=body,
        headers=json.dumps(headers, ensure_ascii=False), received_at=uow.now)
    return uow.conn.execute(insert.returning(t.inbox.c.id)).scalar()


def _insert_ignore(conn: sa.Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(t.inbox).on_conflict_do_nothing(index_elements=["shop_id", "carrier", "message_key"])
