"""Who is calling: the shop comes from the API key only, never from the URL or the body."""

from __future__ import annotations

import hashlib
import time

from fastapi import Request

from lanjie.api.problems import Problem
from lanjie.service.shops import authenticate

#: A verified key is remembered this long, so a busy client costs one lookup per key per few seconds;
#: a revoked key therefore stops working within this time.
CACHE_SECONDS = 5.0
_CACHE_MAX = 10_000
_verified: dict[str, tuple[str, float]] = {}


def current_shop(request: Request) -> str:
    """FastAPI dependency: the shop id of the bearer key, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "Unauthorized", "send the shop's API key as 'Authorization: Bearer <key>'",
                      headers={"WWW-Authenticate": "Bearer"})
    # Keyed by a digest so the cache never holds a usable key.
    digest = hashlib.sha256(token.encode()).hexdigest()
    now = time.monotonic()
    hit = _verified.get(digest)
    if hit is not None and hit[1] > now:
        return hit[0]
    shop_id = authenticate(request.app.state.container.engine, token)
    if shop_id is None:
        raise Problem(401, "Unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    if len(_verified) >= _CACHE_MAX:
        _verified.clear()
    _verified[digest] = (shop_id, now + CACHE_SECONDS)
    return shop_id
