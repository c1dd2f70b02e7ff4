"""Reconciliation (对账): per carrier and month, claimed versus approved versus paid, open claims by age and the
intercept fees charged — as JSON, or as CSV (``Accept: text/csv`` or ``/v1/reconciliation.csv``)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from lanjie.api.auth import current_shop
from lanjie.api.responses import PROBLEMS, Out
from lanjie.service import reconciliation
from lanjie.service.ids import utcnow

router = APIRouter(prefix="/v1", tags=["reconciliation"])
Shop = Annotated[str, Depends(current_shop)]
CSV = "text/csv"
Month = Annotated[str | None, Query(pattern=r"^[12]\d{3}-(0[1-9]|1[0-2])$", description=(
    "YYYY-MM, a calendar month in the shop's time zone; default the current one"))]
Carrier = Annotated[str | None, Query(pattern=r"^[a-z0-9_]{2,40}$", description="one carrier plugin, e.g. kuaidi100")]


class ReconciliationTallyOut(Out):
    count: int
    amount_fen: int


Tally = ReconciliationTallyOut


class ReconciliationAgesOut(Out):
    days_0_7: Tally
    days_8_30: Tally
    days_31_90: Tally
    days_over_90: Tally


class ReconciliationFeesOut(Out):
    count: int
    amount_fen: int = Field(description="CNY fees, in fen")
    other_minor: dict[str, int] = Field(description="fees in other currencies, by currency, in its minor unit")


class ReconciliationLineOut(Out):
    carrier: str = Field(description="the carrier plugin, or `total`")
    filed: Tally = Field(description="claims filed in the month, with the amount asked")
    approved: Tally = Field(description="claims approved (wholly or partly) in the month, with the amount granted")
    paid: Tally = Field(description="payouts received in the month (by their paid_at)")
    rejected: Tally = Field(description="claims rejected in the month, with the amount that had been asked")
    open_by_age: ReconciliationAgesOut = Field(description="claims open at the end of the month (or now), by days "
                                                           "since drafting, with the amount asked")
    intercept_fees: ReconciliationFeesOut = Field(description="fees the carriers quoted when accepting intercepts "
                                                              "in the month")


class ReconciliationOut(Out):
    month: str
    time_zone: str
    from_: str = Field(alias="from", description="the month's first instant, UTC")
    to: str = Field(description="the next month's first instant, UTC")
    open_as_of: str = Field(description="the instant open claims are counted at: the month's end, or now")
    carrier: str | None
    carriers: list[ReconciliationLineOut]
    total: ReconciliationLineOut


_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    200: {"description": "the month's figures; with `Accept: text/csv` (or as `/v1/reconciliation.csv`), the CSV "
                         "(UTF-8 with BOM): a line per carrier, then the total",
          "content": {CSV: {"schema": {"type": "string"}}}},
}


async def _report(request: Request, shop_id: str, month: str | None, carrier: str | None) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        engine = request.app.state.container.for_shop(shop_id, read_only=True)
        with engine.connect() as conn:
            return reconciliation.report(conn, shop_id, month=month, carrier=carrier, now=utcnow())
    return await anyio.to_thread.run_sync(read)


def _csv(answer: dict[str, Any]) -> Response:
    name = f"reconciliation-{answer['month']}{'-' + answer['carrier'] if answer['carrier'] else ''}.csv"
    return Response(reconciliation.as_csv(answer), media_type=f"{CSV}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _wants_csv(accept: str) -> bool:
    """True when Accept names text/csv before application/json (q-values are not weighed)."""
    for media in (part.split(";", 1)[0].strip().lower() for part in accept.split(",")):
        if media in (CSV, "application/json"):
            return media == CSV
    return False


@router.get("/reconciliation", response_model=ReconciliationOut, responses=_RESPONSES,
            summary="Per carrier and month: claimed, approved, paid, rejected; open claims by age; intercept fees")
async def month_report(request: Request, shop_id: Shop, month: Month = None, carrier: Carrier = None) -> Any:
    answer = await _report(request, shop_id, month, carrier)
    return _csv(answer) if _wants_csv(request.headers.get("accept", "")) else JSONResponse(answer)


# A link a person can click (a browser cannot set Accept); the OpenAPI description has it as the Accept
# variant of /v1/reconciliation.
@router.get("/reconciliation.csv", include_in_schema=False)
async def month_csv(request: Request, shop_id: Shop, month: Month = None, carrier: Carrier = None) -> Any:
    return _csv(await _report(request, shop_id, month, carrier))
