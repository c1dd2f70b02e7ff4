"""A minimal live page listing the shop's cases (the full console is a later piece of work)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
PAGE = Path(__file__).parent / "static" / "index.html"


@router.get("/console", response_class=HTMLResponse)
async def console() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
