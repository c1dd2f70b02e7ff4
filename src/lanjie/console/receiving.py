"""The warehouse's receiving page (退货入库): scan a returned parcel, count what came back, inspect, receive.

Scan-first: the page opens with the cursor in the scan box; a keyboard-wedge scanner types the number and
presses Enter. The page's script (``static/receiving.js``) then calls ``/v1/receiving/lookup``, uploads
photos to ``/v1/files`` and receives with ``POST /v1/receiving``, all with the console session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from lanjie.console.messages import Translator
from lanjie.console.vocab import labels
from lanjie.console.web import language, render, signed_in
from lanjie.service.console_users import ConsoleSession

router = APIRouter(include_in_schema=False)


@router.get("/console/receiving")
def receiving_page(request: Request, session: Annotated[ConsoleSession, Depends(signed_in())]) -> Response:
    """Open to every role: owners, agents and the warehouse all receive parcels."""
    t = Translator(language(request))
    return render(request, session, "receiving.html", {"vocab": labels(t, "case_status", "return_status", "carrier")},
                  section="receiving")
