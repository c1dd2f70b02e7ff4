"""The console's rules page: the shop's auto-intercept rules (first match decides), its settlement policy and
deadline margin, and a dry run of the rules as edited over past cases.

The page is rendered by the server from the same functions ``GET /v1/rules`` answers from; saving and the
dry run are the page's script calling ``PUT /v1/rules``, ``PUT /v1/shop/settlement-policy`` and
``POST /v1/rules/dry-run`` with the session, so the API's checks (and its owner-only rule) are the only ones.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse

from lanjie.console.web import engine_for, render, signed_in
from lanjie.domain.autorules import Condition
from lanjie.domain.states import Fallback, InterceptType, SettlementPolicy
from lanjie.service import autointercept, shops
from lanjie.service.console_users import ConsoleSession, Role

router = APIRouter(include_in_schema=False)
Reader = Annotated[ConsoleSession, Depends(signed_in(Role.owner, Role.agent))]

#: What a new rule starts as (the domain's defaults), for the page's "add a rule" template.
NEW_RULE: dict[str, Any] = {"name": "", "enabled": True, "channels": [], "conditions": [c.value for c in Condition],
                            "intercept_type": InterceptType.return_to_sender.value,
                            "service_hours": {"opens": "09:00", "closes": "21:00"}, "fee_ceiling_fen": None,
                            "fallback": Fallback.needs_person.value}


def yuan(fen: int | None) -> str:
    """A fen amount as the yuan an input shows (``1250`` → ``12.50``); empty for none."""
    if fen is None:
        return ""
    whole, cents = divmod(int(fen), 100)
    return f"{whole}.{cents:02d}"


def _read(request: Request, session: ConsoleSession) -> dict[str, Any]:
    shop_id = session.user.shop_id
    with engine_for(request, session, read_only=True).connect() as conn:
        rules = [autointercept.rule_to_dict(r) for r in autointercept.load_rules(conn, shop_id)]
        margin = autointercept.deadline_margin_minutes(conn, shop_id)
        shop = shops.get_shop(conn, shop_id)
    assert shop is not None
    return {"rules": rules, "deadline_margin_minutes": margin, "settlement_policy": shop.settlement_policy.value,
            "timezone": shop.timezone}


@router.get("/console/rules", response_class=HTMLResponse)
async def rules_page(request: Request, session: Reader) -> HTMLResponse:
    data = await anyio.to_thread.run_sync(_read, request, session)
    editable = session.user.role is Role.owner
    return render(request, session, "rules.html", {
        **data, "editable": editable, "new_rule": NEW_RULE, "yuan": yuan,
        "conditions": [c.value for c in Condition], "intercept_types": [i.value for i in InterceptType],
        "fallbacks": [f.value for f in Fallback], "policies": [p.value for p in SettlementPolicy],
        "page_data": {"editable": editable, "timezone": data["timezone"]},
    }, section="rules")
