"""The console's claims pages (理赔): the list with filters, and a claim's detail — its facts, evidence,
status changes, payouts and filing.

Pages are rendered here from the claims store; every change is the page's script calling the claims API
(``/v1/claims/{id}/file|status|documents|payouts|close``, ``/v1/files``) with the session, after which the
detail's parts (``/console/claims/{id}/body`` and ``/actions``) are fetched again; the body also when an event
of its case arrives.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse

from lanjie.console import claim_views as views
from lanjie.console.web import container, engine_for, render, signed_in
from lanjie.domain.states import ClaimStatus, ClaimType
from lanjie.service.console_users import ConsoleSession, Role
from lanjie.service.ids import utcnow
from lanjie.store import returns as store

router = APIRouter(include_in_schema=False)
Reader = Annotated[ConsoleSession, Depends(signed_in(Role.owner, Role.agent))]


def _list(request: Request, session: ConsoleSession, status: ClaimStatus | None,
          type: ClaimType | None) -> tuple[list[Any], int]:
    with engine_for(request, session, read_only=True).connect() as conn:
        return views.list_claims(conn, session.user.shop_id, status=status, type=type)


@router.get("/console/claims", response_class=HTMLResponse)
async def claims_page(request: Request, session: Reader, status: str = "", type: str = "") -> HTMLResponse:
    chosen_status, chosen_type = views.choice(ClaimStatus, status), views.choice(ClaimType, type)
    found, total = await anyio.to_thread.run_sync(_list, request, session, chosen_status, chosen_type)
    return render(request, session, "claims.html", {
        "claims": found, "total": total, "status": chosen_status, "type": chosen_type,
        "statuses": list(ClaimStatus), "types": list(ClaimType), "badges": views.BADGES,
    }, section="claims")


def _detail(request: Request, session: ConsoleSession, claim_id: str) -> dict[str, Any] | None:
    shop_id = session.user.shop_id
    with engine_for(request, session, read_only=True).connect() as conn:
        found = store.get_claim(conn, shop_id=shop_id, claim_id=claim_id[:40])
        if found is None:
            return None
        claim = found[0]
        evidence = views.evidence_of(conn, claim)
    plugin, _, courier = claim.carrier.partition(":")
    return {"claim": claim, "evidence": evidence, "next_statuses": views.next_statuses(claim),
            "payable": claim.status in views.PAYABLE, "badges": views.BADGES,
            "online": container(request).gateway.claim_plugin(plugin, courier) is not None,
            "overdue": claim.overdue(utcnow())}


def _missing(request: Request, session: ConsoleSession) -> HTMLResponse:
    return render(request, session, "claim_missing.html", status_code=404, section="claims")


@router.get("/console/claims/{claim_id}", response_class=HTMLResponse)
async def claim_page(claim_id: str, request: Request, session: Reader) -> HTMLResponse:
    found = await anyio.to_thread.run_sync(_detail, request, session, claim_id)
    if found is None:
        return _missing(request, session)
    return render(request, session, "claim.html", found, section="claims")


#: The detail's parts the page fetches again: its facts and evidence (after a change, or an event of the
#: claim's case) and the actions its status allows (after a change, or when the facts show a new status).
_PARTS = {"body": "claim_body.html", "actions": "claim_actions.html"}


@router.get("/console/claims/{claim_id}/{part}", response_class=HTMLResponse)
async def claim_part(claim_id: str, part: str, request: Request, session: Reader) -> HTMLResponse:
    found = await anyio.to_thread.run_sync(_detail, request, session, claim_id) if part in _PARTS else None
    if found is None:
        return _missing(request, session)
    return render(request, session, _PARTS[part], found, section="claims")
