"""Who is calling: the shop comes from the API key only, never from the URL or the body."""

from __future__ import annotations

import hashlib
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lanjie.api.problems import Problem
from lanjie.service.shops import authenticate

#: A verified key is remembered this long, so a busy client costs one lookup per key per few seconds;
#: a revoked key therefore stops working within this time.
CACHE_SECONDS = 5.0
_CACHE_MAX = 10_000
_verified: dict[str, tuple[str, float]] = {}


#: Declares the scheme in the OpenAPI description (the Authorize button); checking is ours, below.
_bearer = HTTPBearer(auto_error=False, description="the shop's API key, e.g. lj_k_…")


def current_shop(request: Request,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None) -> str:
    """FastAPI dependency: the shop id of the bearer key, or 401."""
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
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
