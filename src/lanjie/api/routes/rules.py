"""The shop's auto-intercept rules, and a dry run of rules over past cases."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request

from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent
from lanjie.api.responses import PROBLEMS, DryRunOut, RulesOut
from lanjie.api.schemas import DryRunIn, RuleIn, RulesIn
from lanjie.domain.autorules import AutoRule
from lanjie.service import autointercept
from lanjie.service.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1/rules", tags=["rules"])
Shop = Annotated[str, Depends(current_shop)]


def _rules(body: list[RuleIn]) -> list[AutoRule]:
    return [autointercept.rule_from_dict(r.model_dump(mode="json")) for r in body]


def _view(conn: Any, shop_id: str) -> dict[str, Any]:
    return {"rules": [autointercept.rule_to_dict(r) for r in autointercept.load_rules(conn, shop_id)],
            "deadline_margin_minutes": autointercept.deadline_margin_minutes(conn, shop_id)}


@router.get("", response_model=RulesOut, responses=PROBLEMS,
            summary="The shop's auto-intercept rules (first match decides) and its deadline margin")
async def get_rules(request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            return _view(conn, shop_id)
    return await anyio.to_thread.run_sync(read)


@router.put("", response_model=RulesOut, responses=PROBLEMS,
            summary="Replace the shop's auto-intercept rules; they apply to cases opened or changed from now on")
async def put_rules(body: RulesIn, request: Request, shop_id: Shop) -> Any:
    rules = _rules(body.rules)

    def write() -> Any:
        with request.app.state.container.for_shop(shop_id).begin() as conn:
            autointercept.save_rules(conn, shop_id, rules, body.deadline_margin_minutes)
            return _view(conn, shop_id)
    return await anyio.to_thread.run_sync(write)


@router.post("/dry-run", response_model=DryRunOut, responses=PROBLEMS,
             summary="Replay rules over past cases, each as it stood when it opened: what they would have done")
async def dry_run(body: DryRunIn, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    container = request.app.state.container
    proposed = _rules(body.rules) if body.rules is not None else None

    def work(uow: UnitOfWork) -> Any:
        rules = proposed if proposed is not None else autointercept.load_rules(uow.conn, shop_id)
        report = autointercept.dry_run(uow.conn, shop_id, rules, container.gateway, since=body.since,
                                       until=body.until, limit=body.limit)
        for row in report["cases"]:
            row["created_at"] = row["created_at"].isoformat()
            row["wait_until"] = row["wait_until"].isoformat() if row["wait_until"] else None
        return report
    return await idempotent(request, shop_id, 200, work)
