"""After-sale cases: open, list, read, preview and request interception, confirm receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from lanjie.api import views
from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent
from lanjie.api.problems import problem_for
from lanjie.api.responses import (
    PROBLEMS,
    CaseCreatedOut,
    CaseListOut,
    CaseOut,
    CaseSummaryOut,
    EvidenceOut,
    InterceptBatchOut,
    InterceptOut,
    InterceptsAcceptedOut,
    PreviewOut,
)
from lanjie.api.schemas import (
    AfterSaleIn,
    ClawbackIn,
    InterceptBatchIn,
    InterceptIn,
    ObjectId,
    RefundDecisionIn,
    RejectIn,
)
from lanjie.channels.base import ChannelCapability
from lanjie.domain.model import Party
from lanjie.domain.states import CaseStatus, CaseType
from lanjie.service import case_search, commands, disputes
from lanjie.service import channels as channel_accounts
from lanjie.service.ids import utcnow
from lanjie.service.preview import add_carrier_checks
from lanjie.service.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1/aftersales", tags=["aftersales"])
Shop = Annotated[str, Depends(current_shop)]


def _detail(uow: UnitOfWork, shop_id: str, case_id: str) -> dict[str, Any]:
    case = commands.load_case(uow, shop_id, case_id)
    parcels = [s for s in (uow.shipment(shop_id, sid) for sid in case.shipment_ids) if s is not None]
    return views.case_detail(uow.conn, case, parcels)


@router.post("", status_code=201, summary="Open an after-sale case", response_model=CaseCreatedOut,
             responses=PROBLEMS)
async def open_case(body: AfterSaleIn, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    cmd = commands.NewCase(order_id=body.order_id, type=body.type, refund_fen=body.refund_fen,
                           waybill_nos=body.waybill_nos, reason=body.reason, channel=body.channel,
                           channel_ref=body.channel_ref, paid_fen=body.paid_fen, deadline_at=body.deadline_at)

    def work(uow: UnitOfWork) -> Any:
        case = commands.open_case(uow, shop_id, cmd)
        return views.case_summary(case) | {"waybill_nos": list(dict.fromkeys(body.waybill_nos))}
    return await idempotent(request, shop_id, 201, work)


@router.get("", summary="List cases, newest first", response_model=CaseListOut, responses=PROBLEMS)
async def list_cases(request: Request, shop_id: Shop,
                     status: CaseStatus | None = None, type: CaseType | None = None,
                     carrier: Annotated[str | None, Query(description="e.g. kuaidi100:zto or zto",
                                                          pattern=r"^([a-z0-9_]{2,40}:)?[a-z0-9]{2,20}$")] = None,
                     waybill_no: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9\-]{4,40}$",
                                                             description="any case: waybills are upper-cased")] = None,
                     channel: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{2,40}$")] = None,
                     needs_person: Annotated[bool | None, Query(
                         description="true: only cases a person must look at (status needs_attention, an "
                                     "open clawback, or attention job_dead: a job serving the case gave up)")] = None,
                     deadline_before: Annotated[datetime | None, Query(
                         description="only undecided cases whose platform deadline falls before this time")] = None,
                     q: Annotated[str | None, Query(
                         min_length=1, max_length=64,
                         description="an order id or waybill number, or its beginning (case-insensitive)")] = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50,
                     offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0) -> Any:
    query = case_search.case_query(shop_id, case_search.CaseFilter(
        status=status, type=type, carrier=carrier, waybill_no=waybill_no and waybill_no.upper(), channel=channel,
        needs_person=needs_person, deadline_before=deadline_before, q=q))

    def read() -> Any:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            total = case_search.count(conn, query)
            rows = conn.execute(case_search.newest_first(query).limit(limit).offset(offset)).all()
        items = [{"id": r.id, "order_id": r.order_id, "type": r.type, "status": r.status, "refund_fen": r.refund_fen,
                  "channel": r.channel, "channel_ref": r.channel_ref, "resolution": r.resolution,
                  "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat(),
                  "deadline_at": r.deadline_at.isoformat() if r.deadline_at else None, "attention": r.attention,
                  "arbitration": r.arbitration} for r in rows]
        return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})
    return await anyio.to_thread.run_sync(read)


@router.get("/{case_id}", summary="A case with its parcels, intercepts, refund and timeline",
            response_model=CaseOut, responses=PROBLEMS)
async def get_case(case_id: ObjectId, request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with UnitOfWork(request.app.state.container.for_shop(shop_id, read_only=True), utcnow(), read_only=True) as uow:
            return JSONResponse(_detail(uow, shop_id, case_id))
    return await anyio.to_thread.run_sync(read)


@router.post("/{case_id}/intercept-preview", summary="Per parcel: can it be intercepted, why not, fee, other items",
             response_model=PreviewOut, responses=PROBLEMS)
async def preview(case_id: ObjectId, request: Request, shop_id: Shop) -> Any:
    container = request.app.state.container

    def read() -> Any:
        with UnitOfWork(container.for_shop(shop_id, read_only=True), utcnow(), read_only=True) as uow:
            return commands.preview_intercepts(uow, shop_id, case_id)
    parcels = await anyio.to_thread.run_sync(read)
    await add_carrier_checks(container.gateway, container.for_shop(shop_id), shop_id, case_id, parcels, utcnow())
    for parcel in parcels:
        del parcel["shipment_id"], parcel["phone_tail"]
    return JSONResponse({"aftersale_id": case_id, "parcels": parcels})


@router.post("/intercept-batch", response_model=InterceptBatchOut, responses=PROBLEMS,
             summary="Intercept many cases at once: a result per case; a refused case leaves the others standing")
async def intercept_batch(body: InterceptBatchIn, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    items = [commands.BatchItem(i.aftersale_id, i.type, Party(**i.address.model_dump()) if i.address else None,
                                i.waybill_nos) for i in body.items]

    def work(uow: UnitOfWork) -> Any:
        answers = commands.request_intercepts_batch(uow, shop_id, items,
                                                    offered=request.app.state.container.gateway.offered_types)
        results = []
        for item, answer in zip(items, answers, strict=True):
            if isinstance(answer, list):
                waybills = {i.shipment_id: getattr(uow.shipment(shop_id, i.shipment_id), "waybill_no", None)
                            for i in answer}
                results.append({"aftersale_id": item.case_id, "result": "accepted", "problem": None,
                                "intercepts": [views.intercept(i, waybills[i.shipment_id]) for i in answer]})
            else:
                problem = problem_for(answer)
                assert problem is not None
                results.append({"aftersale_id": item.case_id, "result": "refused", "intercepts": [],
                                "problem": problem.body()})
        accepted = sum(r["result"] == "accepted" for r in results)
        return {"accepted": accepted, "refused": len(results) - accepted, "results": results}
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


@router.post("/{case_id}/intercepts", status_code=202, response_model=InterceptsAcceptedOut, responses=PROBLEMS,
             summary="Ask the carrier to stop the parcels; the answer follows as events")
async def intercept(case_id: ObjectId, body: InterceptIn, request: Request, shop_id: Shop,
                    _: IdempotencyKey = None) -> Any:
    address = Party(**body.address.model_dump()) if body.address else None

    def work(uow: UnitOfWork) -> Any:
        created = commands.request_intercepts(uow, shop_id, case_id, type=body.type, address=address,
                                              waybill_nos=body.waybill_nos,
                                              offered=request.app.state.container.gateway.offered_types)
        waybills = {i.shipment_id: uow.shipment(shop_id, i.shipment_id) for i in created}
        return {"aftersale_id": case_id,
                "intercepts": [views.intercept(i, getattr(waybills[i.shipment_id], "waybill_no", None))
                               for i in created]}
    return await idempotent(request, shop_id, 202, work, on_commit=request.app.state.container.wake)


@router.post("/{case_id}/intercepts/{intercept_id}/cancel", status_code=202, response_model=InterceptOut,
             responses=PROBLEMS, summary="Ask the carrier to withdraw an accepted intercept (SF, UPS)")
async def cancel_intercept(case_id: ObjectId, intercept_id: ObjectId, request: Request, shop_id: Shop,
                           _: IdempotencyKey = None) -> Any:
    gateway = request.app.state.container.gateway

    def work(uow: UnitOfWork) -> Any:
        icpt = commands.cancel_intercept(uow, shop_id, case_id, intercept_id, can_cancel=gateway.can_cancel)
        shipment = uow.shipment(shop_id, icpt.shipment_id)
        return views.intercept(icpt, getattr(shipment, "waybill_no", None))
    return await idempotent(request, shop_id, 202, work, on_commit=request.app.state.container.wake)


@router.post("/{case_id}/received", summary="The warehouse received the returned parcels",
             response_model=CaseSummaryOut, responses=PROBLEMS)
async def received(case_id: ObjectId, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        return views.case_summary(commands.mark_received(uow, shop_id, case_id))
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


@router.post("/{case_id}/cancel", summary="The buyer withdrew the request", response_model=CaseSummaryOut,
             responses=PROBLEMS)
async def cancel(case_id: ObjectId, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        return views.case_summary(commands.cancel_case(uow, shop_id, case_id,
                                                       can_cancel=request.app.state.container.gateway.can_cancel))
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


@router.get("/{case_id}/evidence", response_model=EvidenceOut, responses=PROBLEMS,
            summary="The dispute evidence pack: tracking, the carrier's intercept answers, refunds, a statement")
async def evidence(case_id: ObjectId, request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with UnitOfWork(request.app.state.container.for_shop(shop_id, read_only=True), utcnow(), read_only=True) as uow:
            case = commands.load_case(uow, shop_id, case_id)
            parcels = [s for s in (uow.shipment(shop_id, sid) for sid in case.shipment_ids) if s is not None]
            ids = [s.id for s in parcels]
            return JSONResponse(disputes.pack(
                case, parcels, timeline=views.timeline(uow.conn, shop_id, case.id, ids),
                exchanges=views.exchanges(uow.conn, shop_id, case.id, ids, case.created_at),
                decisions=views.decisions(uow.conn, shop_id, case.id),
                refunds=[views.refund(r) for r in case.refunds], now=uow.now))
    return await anyio.to_thread.run_sync(read)


@router.post("/{case_id}/clawback", response_model=CaseSummaryOut, responses=PROBLEMS,
             summary="Close the case's open clawback (a refund paid on an intercept that was then missed)")
async def clawback(case_id: ObjectId, body: ClawbackIn, request: Request, shop_id: Shop,
                   _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        case = commands.load_case(uow, shop_id, case_id)
        case.resolve_clawback(body.outcome, body.note)
        uow.save(case)
        return views.case_summary(case)
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


@router.post("/{case_id}/refund", response_model=CaseSummaryOut, responses=PROBLEMS,
             summary="A person's decision: refund now, or agree 拒签后退款 (refund once the buyer refuses the parcel)")
async def decide_refund(case_id: ObjectId, body: RefundDecisionIn, request: Request, shop_id: Shop,
                        _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        return views.case_summary(commands.decide_refund(uow, shop_id, case_id, note=body.note,
                                                         on_refusal=body.decision == "refund_on_refusal"))
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


@router.post("/{case_id}/reject", status_code=202, response_model=CaseSummaryOut, responses=PROBLEMS,
             summary="Refuse the buyer's request (on its platform first, where lanjie can: Douyin 202, Taobao refuse)")
async def reject(case_id: ObjectId, body: RejectIn, request: Request, shop_id: Shop,
                 _: IdempotencyKey = None) -> Any:
    container = request.app.state.container

    def work(uow: UnitOfWork) -> Any:
        case = commands.load_case(uow, shop_id, case_id)
        on_platform = case.channel != "rest" and container.channels.can(
            case.channel, ChannelCapability.reject_refund) and channel_accounts.account_for(
            uow.conn, shop_id, case.channel) is not None
        return views.case_summary(commands.reject_case(uow, shop_id, case_id, reason_code=body.reason_code,
                                                       reason=body.reason, evidence=body.evidence,
                                                       on_platform=on_platform))
    return await idempotent(request, shop_id, 202, work, on_commit=container.wake)
