"""What the settings pages share: owner-only access, the sub-navigation, notices after a POST, errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from starlette.responses import HTMLResponse, RedirectResponse

from lanjie.console.web import redirect, render, signed_in
from lanjie.service.console_users import ConsoleSession, Role

#: Only a shop's owners see or change its settings.
Owner = Annotated[ConsoleSession, Depends(signed_in(Role.owner))]
#: An object's id in a settings URL (another shop's id answers 404, a malformed one 422).
ObjectId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,80}$")]

#: The settings' sections, in the sub-navigation's order: (key, path, message key).
SECTIONS = [
    ("shop", "/console/settings/shop", "settings.nav.shop"),
    ("carriers", "/console/settings/carriers", "settings.nav.carriers"),
    ("channels", "/console/settings/channels", "settings.nav.channels"),
    ("webhooks", "/console/settings/webhooks", "settings.nav.webhooks"),
    ("keys", "/console/settings/api-keys", "settings.nav.keys"),
    ("users", "/console/settings/users", "settings.nav.users"),
]

#: What a redirect after a POST may announce (``?notice=…``); anything else in the URL is ignored.
NOTICES = frozenset({"shop_saved", "carrier_saved", "channel_saved", "webhook_enabled", "webhook_disabled",
                     "webhook_deleted", "redelivered", "key_revoked", "user_added", "user_role", "user_disabled",
                     "user_enabled", "user_password"})


def page(request: Request, session: ConsoleSession, template: str, sub: str, context: dict[str, Any] | None = None,
         *, status_code: int = 200, error: str = "", detail: str = "") -> HTMLResponse:
    """A settings page: its section marked in the sub-navigation, the notice of the last change, an error."""
    notice = request.query_params.get("notice", "")
    shared = {"sections": SECTIONS, "sub": sub, "notice": notice if notice in NOTICES and not error else "",
              "error": error, "detail": detail}
    return render(request, session, template, {**shared, **(context or {})}, status_code=status_code,
                  section="settings")


def not_found(request: Request, session: ConsoleSession, sub: str) -> HTMLResponse:
    """Another shop's object, or none at all: the same 404."""
    return page(request, session, "settings_missing.html", sub, status_code=404, error="error.not_found")


def done(path: str, notice: str) -> RedirectResponse:
    """See the page again after a change, with the notice that says what changed."""
    assert notice in NOTICES
    return redirect(f"{path}?notice={notice}")
