"""Who is calling: the shop comes from the API key only, never from the URL or the body."""

from __future__ import annotations

from fastapi import Request

from lanjie.api.problems import Problem
from lanjie.service.shops import authenticate


def current_shop(request: Request) -> str:
    """FastAPI dependency: the shop id of the bearer key, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "Unauthorized", "send the shop's API key as 'Authorization: Bearer <key>'",
                      headers={"WWW-Authenticate": "Bearer"})
    shop_id = authenticate(request.app.state.container.engine, token.strip())
    if shop_id is None:
        raise Problem(401, "Unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return shop_id
