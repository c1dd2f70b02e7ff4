"""Signing in and out of the console, and the language switch."""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

from lanjie.api.auth import SESSION_COOKIE, console_session
from lanjie.console.messages import LANGUAGES
from lanjie.console.web import HEADERS, LANG_COOKIE, CheckedForm, local_path, redirect, render
from lanjie.service.console_users import SESSION_HOURS, Role, sign_in, sign_out

router = APIRouter(include_in_schema=False)

#: Failed sign-ins allowed per client address and login in a window, before the form refuses for a while.
MAX_FAILURES = 8
WINDOW_SECONDS = 60.0


def _failures(request: Request) -> dict[tuple[str, str], list[float]]:
    """This app's recent failed sign-ins (per process: several API processes each count their own)."""
    state = request.app.state
    if not hasattr(state, "sign_in_failures"):
        state.sign_in_failures = {}
    return state.sign_in_failures


def _throttled(failures: dict[tuple[str, str], list[float]], key: tuple[str, str], now: float) -> bool:
    recent = [at for at in failures.get(key, []) if now - at < WINDOW_SECONDS]
    failures[key] = recent
    if len(failures) > 10_000:  # bounded: a flood of logins forgets the oldest window
        failures.clear()
    return len(recent) >= MAX_FAILURES


def _same_origin(request: Request) -> bool:
    """The browser's Origin header, when it sends one, names this very host."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")


def home_for(role: Role) -> str:
    return "/console/receiving" if role is Role.warehouse else "/console/cases"


@router.get("/console")
async def console_home(request: Request) -> Response:
    session = console_session(request)
    return redirect(home_for(session.user.role) if session else "/console/sign-in")


@router.get("/console/sign-in")
async def sign_in_page(request: Request, next: Annotated[str, Query(max_length=500)] = "") -> Response:
    session = console_session(request)
    if session is not None:
        return redirect(local_path(next, home_for(session.user.role)))
    return render(request, None, "sign_in.html", {"next": local_path(next, ""), "error": ""})


@router.post("/console/sign-in")
async def sign_in_submit(request: Request, login: Annotated[str, Form(max_length=120)],
                         password: Annotated[str, Form(max_length=200)],
                         next: Annotated[str, Form(max_length=500)] = "") -> Response:
    if not _same_origin(request):  # a form on another site must not sign the browser in (login CSRF)
        return render(request, None, "forbidden.html", {"reason": "error.csrf"}, status_code=403)
    key = (request.client.host if request.client else "", login.strip().lower())
    now = time.monotonic()
    failures = _failures(request)
    if _throttled(failures, key, now):
        return render(request, None, "sign_in.html", {"next": local_path(next, ""), "error": "signin.throttled",
                                                      "login": login}, status_code=429)
    engine = request.app.state.container.engine
    found = sign_in(engine, login, password)
    if found is None:
        failures.setdefault(key, []).append(now)
        return render(request, None, "sign_in.html", {"next": local_path(next, ""), "error": "signin.failed",
                                                      "login": login}, status_code=401)
    failures.pop(key, None)
    token, user = found
    response = redirect(local_path(next, home_for(user.role)))
    settings = request.app.state.container.settings
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_HOURS * 3600, path="/", httponly=True,
                        secure=settings.console_secure_cookies, samesite="strict")
    return response


@router.post("/console/sign-out")
async def sign_out_submit(request: Request, form: CheckedForm) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        sign_out(request.app.state.container.engine, token)
    response = redirect("/console/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/console/lang")
async def switch_language(to: Annotated[str, Query(max_length=8)],
                          next: Annotated[str, Query(max_length=500)] = "/console") -> Response:
    """Remember the language (a cookie, a year) and go back to the page; it changes no data."""
    response = redirect(local_path(next))
    if to in LANGUAGES:
        response.set_cookie(LANG_COOKIE, to, max_age=365 * 86400, path="/", samesite="lax")
    response.headers.update(HEADERS)
    return response
