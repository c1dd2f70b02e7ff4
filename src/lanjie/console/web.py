"""What every console page shares: who is signed in, their role, the language, CSRF, and rendering.

Pages are rendered by the server (Jinja2 templates in ``templates/``) in the shop's time zone and the
user's language; the few things a page does without reloading (the 拦截 click, live updates, uploads)
are our own small scripts in ``static/`` calling the same ``/v1`` API with the session cookie. Templates
get ``t``, ``lang``, ``money``, ``when``, ``courier`` (a carrier code as its name), ``user``, ``csrf`` and ``nav``.

A page route takes ``session: Annotated[ConsoleSession, Depends(signed_in(Role.owner, ...))]``;
a form POST also takes ``form: Annotated[FormData, Depends(checked_form)]`` (CSRF checked).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lanjie.api.auth import console_session
from lanjie.console.messages import LANGUAGES, Translator
from lanjie.console.vocab import carrier_label
from lanjie.service.console_users import ConsoleSession, Role

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
TEMPLATES.env.trim_blocks = True
TEMPLATES.env.lstrip_blocks = True
LANG_COOKIE = "lanjie_lang"
#: Pages load only their own files and talk only to their own origin; no inline script or style.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
          "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "Cache-Control": "no-store", "X-Frame-Options": "DENY"}

#: The console's sections, in the navigation's order: (key, path, message key, roles that see it).
NAV: list[tuple[str, str, str, frozenset[Role]]] = [
    ("cases", "/console/cases", "nav.cases", frozenset({Role.owner, Role.agent})),
    ("receiving", "/console/receiving", "nav.receiving", frozenset(Role)),
    ("claims", "/console/claims", "nav.claims", frozenset({Role.owner, Role.agent})),
    ("rules", "/console/rules", "nav.rules", frozenset({Role.owner, Role.agent})),
    ("dashboard", "/console/dashboard", "nav.dashboard", frozenset({Role.owner, Role.agent})),
    ("settings", "/console/settings", "nav.settings", frozenset({Role.owner})),
]


class SignInRequired(Exception):
    """Raised by ``signed_in`` for a request without a live session: the console answers with the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class RoleRefused(Exception):
    """Raised by ``signed_in`` when the user's role may not open the page."""


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "")
    return lang if lang in LANGUAGES else LANGUAGES[0]


def signed_in(*roles: Role) -> Callable[[Request], ConsoleSession]:
    """A dependency: the request's console session, when its user has one of ``roles`` (all, when none)."""
    allowed = frozenset(roles or Role)

    def dependency(request: Request) -> ConsoleSession:
        session = console_session(request)
        if session is None:
            raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if session.user.role not in allowed:
            raise RoleRefused()
        return session

    return dependency


async def checked_form(request: Request) -> FormData:
    """A dependency for a console form POST: the form, once its ``csrf`` field matches the session's token."""
    session = console_session(request)
    if session is None:
        raise SignInRequired("/console")
    form = await request.form()
    sent = str(form.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise CsrfRefused()
    return form


class CsrfRefused(Exception):
    """A console form came without the session's CSRF token (or with another's)."""


CheckedForm = Annotated[FormData, Depends(checked_form)]


def local_path(candidate: str, default: str = "/console") -> str:
    """``candidate`` if it is a path inside the console (never another site: no scheme, no //)."""
    if candidate.startswith("/console") and not candidate.startswith("//") and "\\" not in candidate:
        return candidate
    return default


class Formats:
    """Money and time as the console shows them: ¥ with two decimals; the shop's local time."""

    def __init__(self, timezone: str) -> None:
        try:
            self.zone = ZoneInfo(timezone)
        except (KeyError, ValueError):
            self.zone = ZoneInfo("Asia/Shanghai")

    @staticmethod
    def money(fen: int | None) -> str:
        if fen is None:
            return "—"
        sign = "-" if fen < 0 else ""
        yuan, cents = divmod(abs(int(fen)), 100)
        return f"{sign}¥{yuan:,}.{cents:02d}"

    def when(self, at: datetime | str | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        if at is None or at == "":
            return "—"
        if isinstance(at, str):
            at = datetime.fromisoformat(at.replace("Z", "+00:00"))
        return at.astimezone(self.zone).strftime(pattern)


def render(request: Request, session: ConsoleSession | None, template: str, context: dict[str, Any] | None = None,
           *, status_code: int = 200, section: str = "") -> HTMLResponse:
    """A console page: ``template`` with the shared context (t, lang, money, when, user, csrf, nav)."""
    lang = language(request)
    formats = Formats(session.timezone if session else "Asia/Shanghai")
    role = session.user.role if session else None
    nav = [(key, path, label) for key, path, label, roles in NAV if role in roles]
    t = Translator(lang)
    shared = {"t": t, "lang": lang, "courier": lambda carrier: carrier_label(t, carrier), "languages": LANGUAGES,
              "money": formats.money,
              "when": formats.when, "session": session, "user": session.user if session else None,
              "csrf": session.csrf_token if session else "", "nav": nav, "section": section,
              "here": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
    response = TEMPLATES.TemplateResponse(request, template, {**shared, **(context or {})}, status_code=status_code)
    response.headers.update(HEADERS)
    return response


def redirect(path: str) -> RedirectResponse:
    """After a form POST: see the page again (303, so a reload does not post twice)."""
    return RedirectResponse(path, status_code=303, headers=HEADERS)


def engine_for(request: Request, session: ConsoleSession, *, read_only: bool = False) -> sa.Engine:
    """The shop's engine for this session (PostgreSQL row-level security limits it to the shop)."""
    return request.app.state.container.for_shop(session.user.shop_id, read_only=read_only)


def container(request: Request) -> Any:
    return request.app.state.container


def forbidden(request: Request, session: ConsoleSession | None) -> Response:
    return render(request, session, "forbidden.html", status_code=403)
