"""The console's cases pages: the live list with its filters and batch intercept, and one case with
its timeline and the 拦截 button.

The actions (preview, intercept, batch) are the page scripts' calls to ``/v1/aftersales``; these
routes only render, and each live region has a fragment route the shared script re-fetches.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse

from lanjie.console import case_queries as queries
from lanjie.console import vocab
from lanjie.console.case_timeline import Sentences
from lanjie.console.messages import Translator
from lanjie.console.web import Formats, engine_for, language, render, signed_in
from lanjie.service.console_users import ConsoleSession, Role
from lanjie.service.ids import utcnow

router = APIRouter(include_in_schema=False)
Staff = Annotated[ConsoleSession, Depends(signed_in(Role.owner, Role.agent))]
#: What every cases template may call besides the shared context.
HELPERS = {"label": vocab.status_label, "badge": vocab.badge, "carrier_label": vocab.carrier_label}


async def _list_context(request: Request, session: Staff) -> dict[str, Any]:
    query = queries.ListQuery.parse(request.query_params)
    engine = engine_for(request, session, read_only=True)
    page = await anyio.to_thread.run_sync(queries.list_cases, engine, session.user.shop_id, query, utcnow())
    carriers = await anyio.to_thread.run_sync(queries.carriers, engine, session.user.shop_id)
    t = Translator(language(request))

    def page_url(n: int) -> str:
        params = query.params(page=n)
        return "/console/cases" + (f"?{urlencode(params)}" if params else "")

    return {**HELPERS, "query": query, "page": page, "carriers": carriers, "deadline_hours": queries.DEADLINE_HOURS,
            "vocabulary": vocab.labels(t, "intercept_reason", "batch_refusal"), "page_url": page_url,
            "rows_url": "/console/cases/rows?" + urlencode(query.params())}


@router.get("/console/cases")
async def cases_page(request: Request, session: Staff) -> HTMLResponse:
    return render(request, session, "cases.html", await _list_context(request, session), section="cases")


@router.get("/console/cases/rows")
async def cases_rows(request: Request, session: Staff) -> HTMLResponse:
    """The list's live region alone, for the shared script to swap in when cases change."""
    return render(request, session, "cases_rows.html", await _list_context(request, session), section="cases")


async def _case_context(request: Request, session: Staff, case_id: str) -> dict[str, Any] | None:
    engine = engine_for(request, session, read_only=True)
    case = await anyio.to_thread.run_sync(queries.case_view, engine, session.user.shop_id, case_id[:64], utcnow())
    if case is None:
        return None
    t = Translator(language(request))
    waybills = {i["id"]: i["waybill_no"] for i in case["intercepts"]}
    sentences = Sentences(t, Formats(session.timezone), waybills)
    blocked = case["blocked"]
    return {**HELPERS, "case": case, "sentence": sentences, "blocked": _blocked_text(t, blocked) if blocked else "",
            "vocabulary": vocab.labels(t, "intercept_status", "intercept_reason", "intercept_type", "tracking",
                                       "fee_payer", "carrier")}


def _blocked_text(t: Translator, blocked: tuple[str, dict[str, str]]) -> str:
    key, fields = blocked
    words = {"status": vocab.status_label(t, "case_status", fields.get("status")),
             "reason": vocab.status_label(t, "intercept_reason", fields.get("reason"))}
    return t(key, **{name: words[name] for name in fields})


def _not_found(request: Request, session: Staff) -> HTMLResponse:
    return render(request, session, "case_not_found.html", status_code=404, section="cases")


@router.get("/console/cases/{case_id}")
async def case_page(case_id: str, request: Request, session: Staff) -> HTMLResponse:
    context = await _case_context(request, session, case_id)
    if context is None:
        return _not_found(request, session)
    return render(request, session, "case_detail.html", context, section="cases")


@router.get("/console/cases/{case_id}/body")
async def case_body(case_id: str, request: Request, session: Staff) -> HTMLResponse:
    """The case's changing part alone, for the shared script to swap in when an event concerns the case."""
    context = await _case_context(request, session, case_id)
    if context is None:
        return _not_found(request, session)
    return render(request, session, "case_body.html", context, section="cases")
