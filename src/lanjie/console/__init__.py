"""The merchant console at /console: server-rendered pages, our own small scripts, no CDN, no build step."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from lanjie.api.auth import console_session
from lanjie.console import auth, cases, claims, dashboard, receiving, rules, settings
from lanjie.console.web import HEADERS, HERE, CsrfRefused, RoleRefused, SignInRequired, redirect, render


def install(app: FastAPI) -> None:
    """Mount the console's pages, its static files and its error pages on the app."""
    for module in (auth, cases, receiving, claims, rules, dashboard, settings):
        app.include_router(module.router)
    app.mount("/console/static", _Static(directory=str(HERE / "static")), name="console-static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, exc: SignInRequired) -> Response:
        return redirect(f"/console/sign-in?next={quote(exc.next_path, safe='/')}")

    @app.exception_handler(RoleRefused)
    async def _role(request: Request, _: RoleRefused) -> Response:
        return render(request, console_session(request), "forbidden.html", status_code=403)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _: CsrfRefused) -> Response:
        return render(request, console_session(request), "forbidden.html", {"reason": "error.csrf"},
                      status_code=403)


class _Static(StaticFiles):
    """The console's own files, with the pages' security headers (a plain ASGI app: no middleware wraps
    every request of the API for the sake of a few files)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        for name, value in HEADERS.items():
            if name != "Cache-Control":
                response.headers.setdefault(name, value)
        return response
