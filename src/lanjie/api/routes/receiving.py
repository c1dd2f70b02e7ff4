"""Warehouse receiving (退货入库): find the case a returned parcel belongs to by the number scanned off it, and
record what the warehouse found when it opened the parcel.

A returned parcel usually carries its forward waybill, sometimes a new number the carrier gave the return
(``return_waybill_no``); either finds the case. A parcel that came back without a successful intercept
(the buyer refused it at the door) is found by its waybill through its open case.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints

from lanjie import files
from lanjie.api import views
from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent
from lanjie.api.problems import Problem
from lanjie.api.responses import PROBLEMS, CaseSummaryOut, Out, ReturnOut
from lanjie.api.schemas import Strict, Text, Waybill
from lanjie.domain.errors import NotFound
from lanjie.domain.model import Shipment
from lanjie.domain.returns import ReceivedItem, ReturnLeg
from lanjie.domain.states import Inspection, TrackingStatus
from lanjie.service import commands, returns
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import repository
from lanjie.store import returns as store

router = APIRouter(prefix="/v1/receiving", tags=["receiving"])
Shop = Annotated[str, Depends(current_shop)]
WAYBILL_PATTERN = r"^[A-Za-z0-9\-]{4,40}$"
MAX_PHOTOS = 20


# ----------------------------------------------------------------------------------------------- shapes
class ReceivedItemIn(Strict):
    sku: Text
    received: Annotated[int, Field(ge=0, le=100_000, strict=True, description="how many of it came back")]


class ReceivingIn(Strict):
    waybill_no: Annotated[Waybill, Field(description="the number scanned: the forward waybill or the return's own")]
    inspection: Inspection
    items: Annotated[list[ReceivedItemIn], Field(
        max_length=200, description="counts that differ from what was shipped; items not named came back whole")] = []
    photos: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,80}$")]], Field(
        max_length=MAX_PHOTOS, description="evidence file ids (POST /v1/files)")] = []
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^[^\x00]*$")] = ""
    damaged_value_fen: Annotated[int | None, Field(
        gt=0, le=10**12, strict=True, description="damaged only: the value of what was damaged (default: the "
                                                  "goods' value); the claim is worked out from it")] = None


class ExpectedItemOut(Out):
    sku: str
    name: str
    expected: int = Field(description="how many were shipped in this parcel")
    price_fen: int


class ReceivingParcelOut(Out):
    id: str
    waybill_no: str
    carrier: str
    scanned: bool = Field(description="true for the parcel the scanned number found")
    tracking_status: TrackingStatus
    value_fen: int
    freight_fen: int
    insured_fen: int | None
    items: list[ExpectedItemOut]
    return_: ReturnOut | None = Field(alias="return", description="its way back; none when it came back without "
                                                                   "a successful intercept (refused at the door)")


class ReceivingLookupOut(Out):
    waybill_no: str
    matched_by: Literal["waybill_no", "return_waybill_no"]
    case: CaseSummaryOut
    parcels: list[ReceivingParcelOut]


class ReceivedOut(Out):
    return_: ReturnOut = Field(alias="return")
    case: CaseSummaryOut
    claim_id: str | None = Field(description="the claim drafted for a damaged or short parcel")


# ----------------------------------------------------------------------------------------------- views
def _parcel_view(s: Shipment, leg: ReturnLeg | None, *, scanned: bool) -> dict[str, Any]:
    return {"id": s.id, "waybill_no": s.waybill_no, "carrier": f"{s.carrier}:{s.carrier_code}", "scanned": scanned,
            "tracking_status": s.tracking_status, "value_fen": s.value_fen, "freight_fen": s.freight_fen,
            "insured_fen": s.insured_fen,
            "items": [{"sku": i.sku, "name": i.name, "expected": i.qty, "price_fen": i.price_fen} for i in s.items],
            "return": views.return_leg(leg) if leg else None}


# ----------------------------------------------------------------------------------------------- lookup
def find(uow: UnitOfWork, shop_id: str, waybill_no: str) -> tuple[Shipment, str, str]:
    """(the scanned parcel, its case id, what the number matched) — the same search ``returns.receive`` makes."""
    leg = store.leg_by_waybill(uow.conn, shop_id=shop_id, waybill_no=waybill_no)
    if leg is not None:
        shipment = uow.shipment(shop_id, leg.shipment_id)
        assert shipment is not None
        by_return = leg.return_waybill_no == waybill_no and leg.waybill_no != waybill_no
        return shipment, leg.aftersale_id, "return_waybill_no" if by_return else "waybill_no"
    shipment = uow.shipment_by_waybill(shop_id, waybill_no)
    case_ids = repository.case_ids_for_shipment(uow.conn, shop_id=shop_id, shipment_id=shipment.id) \
        if shipment is not None else []
    if shipment is None or not case_ids:
        raise NotFound("return", waybill_no)
    return shipment, case_ids[-1], "waybill_no"


def lookup(uow: UnitOfWork, shop_id: str, waybill_no: str) -> dict[str, Any]:
    """What a scan finds: the case, its parcels with the items and counts expected, and each parcel's way back."""
    scanned, case_id, matched_by = find(uow, shop_id, waybill_no)
    case = commands.load_case(uow, shop_id, case_id)
    legs = {leg.shipment_id: leg for leg in store.legs_of_case(uow.conn, shop_id=shop_id, case_id=case.id)}
    if scanned.id not in legs:  # found through a leg of another case (the parcel was in two cases)
        own = store.leg_for_shipment(uow.conn, shop_id=shop_id, shipment_id=scanned.id)
        if own is not None:
            legs[scanned.id] = own
    ids = list(dict.fromkeys([scanned.id, *case.shipment_ids]))
    parcels = [s for s in (uow.shipment(shop_id, sid) for sid in ids) if s is not None]
    return {"waybill_no": waybill_no, "matched_by": matched_by, "case": views.case_summary(case),
            "parcels": [_parcel_view(s, legs.get(s.id), scanned=s.id == scanned.id) for s in parcels]}


# ----------------------------------------------------------------------------------------------- routes
@router.get("/lookup", response_model=ReceivingLookupOut, responses=PROBLEMS,
            summary="What a scanned number finds: the case, its parcels and items, the way back")
async def find_return(request: Request, shop_id: Shop, waybill_no: Annotated[str, Query(
        pattern=WAYBILL_PATTERN, description="the number scanned off the parcel: its waybill or the return's own",
        )]) -> Any:
    def read() -> Any:
        with UnitOfWork(request.app.state.container.for_shop(shop_id, read_only=True), utcnow(),
                        read_only=True) as uow:
            return JSONResponse(lookup(uow, shop_id, waybill_no))
    return await anyio.to_thread.run_sync(read)


@router.post("", response_model=ReceivedOut, responses=PROBLEMS,
             summary="The warehouse scanned a returned parcel in and inspected it (ok, damaged, short)")
async def receive(body: ReceivingIn, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    container = request.app.state.container
    counts = {i.sku: i.received for i in body.items}
    if len(counts) != len(body.items):
        raise Problem(422, "Invalid request", "items: each sku once", type_="/problems/invalid-request",
                      field="items")
    if body.damaged_value_fen is not None and body.inspection != Inspection.damaged:
        raise Problem(422, "Invalid request", "damaged_value_fen: only for a damaged parcel",
                      type_="/problems/invalid-request", field="damaged_value_fen")

    def work(uow: UnitOfWork) -> Any:
        shipment, _, _ = find(uow, shop_id, body.waybill_no)
        shipped = {i.sku: i.qty for i in shipment.items}
        extra = sorted(sku for sku, n in counts.items() if sku in shipped and n > shipped[sku])
        if extra:
            raise Problem(422, "Invalid request", f"items: more received than shipped: {', '.join(extra)}",
                          type_="/problems/invalid-request", field="items")
        _check_photos(uow, shop_id, body.photos)
        done = returns.receive(uow, shop_id, waybill_no=body.waybill_no, inspection=body.inspection,
                               items=[ReceivedItem(sku, shipped.get(sku, 0), n) for sku, n in counts.items()],
                               photos=list(dict.fromkeys(body.photos)), note=body.note,
                               damaged_value_fen=body.damaged_value_fen, settings=container.settings)
        return {"return": views.return_leg(done.leg), "case": views.case_summary(done.case),
                "claim_id": done.claim_id}
    return await idempotent(request, shop_id, 200, work, on_commit=container.wake)


def _check_photos(uow: UnitOfWork, shop_id: str, photos: list[str]) -> None:
    """Photos are the shop's own evidence files: an unknown id is refused before anything is written."""
    known = {f.id for f in files.files_of(uow.conn, shop_id=shop_id, ids=photos)}
    unknown = [p for p in dict.fromkeys(photos) if p not in known]
    if unknown:
        raise Problem(422, "Invalid request", f"photos: no such file: {', '.join(unknown)} (upload with POST "
                      "/v1/files)", type_="/problems/invalid-request", field="photos")
