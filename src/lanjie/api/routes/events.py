"""The shop's event stream (server-sent events), resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from sse_starlette.sse import EventSourceResponse

from lanjie.api import views
from lanjie.api.auth import current_shop
from lanjie.store import tables as t

router = APIRouter(prefix="/v1/events", tags=["events"])
Shop = Annotated[str, Depends(current_shop)]
POLL_SECONDS = 0.05
BATCH = 500


def _after(engine: sa.Engine, shop_id: str, last_id: int) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.events).where(t.events.c.shop_id == shop_id, t.events.c.id > last_id)
                            .order_by(t.events.c.id).limit(BATCH)).all()


def _newest(engine: sa.Engine, shop_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.events.c.id), 0))
                            .where(t.events.c.shop_id == shop_id)).scalar_one()


@router.get("", summary="Server-sent events of this shop; resume with the Last-Event-ID header",
            response_class=EventSourceResponse)
async def stream(request: Request, shop_id: Shop,
                 since: Annotated[int | None, Query(ge=0, le=2**62,
                                                    description="start after this event id (0 = all)")] = None,
                 plain: Annotated[bool, Query(description="send every event unnamed (SSE `message`), for a "
                                                          "browser's EventSource, which cannot listen to all "
                                                          "names; the data's `type` still says what it is")] = False,
                 ) -> EventSourceResponse:
    engine: sa.Engine = request.app.state.container.for_shop(shop_id, read_only=True)
    header = request.headers.get("last-event-id", "").strip()
    if header.isdigit() and len(header) <= 18:  # a real event id fits in a signed 64-bit column
        last_id = int(header)
    elif since is not None:
        last_id = since
    else:
        last_id = await anyio.to_thread.run_sync(_newest, engine, shop_id)

    async def events() -> AsyncIterator[dict[str, Any]]:
        nonlocal last_id
        while not await request.is_disconnected():
            rows = await anyio.to_thread.run_sync(_after, engine, shop_id, last_id)
            for row in rows:
                last_id = row.id
                message = {"id": str(row.id), "data": json.dumps(views.event(row), ensure_ascii=False)}
                yield message if plain else {**message, "event": row.type}
            if len(rows) < BATCH:
                await asyncio.sleep(POLL_SECONDS)

    return EventSourceResponse(events(), ping=15)
