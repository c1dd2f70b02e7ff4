"""Reading an upload once, with a cap, and parsing it again as a form from the bytes already read."""

from __future__ import annotations

from typing import Any

from fastapi import Request


def replayed(request: Request, body: bytes) -> Request:
    """The request again, its body ``body`` (already read): Starlette can then parse it as a form."""
    sent = False

    async def receive() -> Any:
        nonlocal sent
        if sent:
            return await request.receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return Request(request.scope, receive)
