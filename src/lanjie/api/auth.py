"""Who is calling: the shop comes from the credential only (an API key, or a console user's session),
never from the URL or the body.

Machines send ``Authorization: Bearer <API key>``. The console's pages call the same API with their
session cookie; then every change (POST, PUT, PATCH, DELETE) must echo the session's CSRF token in
``X-CSRF-Token``, and the user's role limits which routes answer (by the route's tag).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lanjie.api.problems import Problem
from lanjie.service.console_users import ConsoleSession, Role, session_for
from lanjie.service.shops import authenticate

SESSION_COOKIE = "lanjie_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
#: Route tags an agent may read but not change (the shop's settings belong to its owners).
_AGENT_READ_ONLY = {"shop", "rules", "webhooks", "carriers", "channels"}
#: POSTs that change nothing (an agent may make them under a read-only tag).
_READS_BY_POST = {"/v1/rules/dry-run"}
#: The only route tags the warehouse's role reaches: scan, inspect, photograph, receive.
_WAREHOUSE = {"receiving", "files", "events"}

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
        session = console_session(request)
        if session is not None:
            _check_console_call(request, session)
            return session.user.shop_id
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


def console_session(request: Request) -> ConsoleSession | None:
    """The console session of the request's cookie (looked up once per request), or None."""
    if "console_session" not in request.scope:
        token = request.cookies.get(SESSION_COOKIE, "")
        request.scope["console_session"] = (
            session_for(request.app.state.container.engine, token) if token else None)
    return request.scope["console_session"]


def _check_console_call(request: Request, session: ConsoleSession) -> None:
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise Problem(403, "Forbidden", f"a console change must send the session's {CSRF_HEADER} header")
    route = request.scope.get("route")
    tags = set(getattr(route, "tags", None) or [])
    role = session.user.role
    if role is Role.warehouse and not tags <= _WAREHOUSE:
        raise Problem(403, "Forbidden", "the warehouse role may only scan, inspect and receive returns")
    if (role is Role.agent and request.method not in _SAFE_METHODS and tags & _AGENT_READ_ONLY
            and getattr(route, "path", "") not in _READS_BY_POST):
        raise Problem(403, "Forbidden", "only the shop's owners change its settings")
