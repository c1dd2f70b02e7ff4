"""The warehouse's receiving page (退货入库): scan a returned parcel, count what came back, inspect, receive.

A page of our own (HTML, one script, one style sheet; nothing from a CDN). It talks to the API with the
shop's key, taken like the case list's: ``/console/receiving#key=<API key>`` (the fragment never reaches
the server), or the key the console remembered.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
#: The page loads only its own files and talks only to its own origin.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
          "form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache"}


@router.get("/console/receiving", response_class=HTMLResponse)
async def receiving_page() -> HTMLResponse:
    return HTMLResponse((STATIC / "receiving.html").read_text(encoding="utf-8"), headers=_HEADERS)


@router.get("/console/receiving.js")
async def receiving_script() -> Response:
    return Response((STATIC / "receiving.js").read_bytes(), media_type="text/javascript; charset=utf-8",
                    headers=_HEADERS)


@router.get("/console/receiving.css")
async def receiving_style() -> Response:
    return Response((STATIC / "receiving.css").read_bytes(), media_type="text/css; charset=utf-8", headers=_HEADERS)
