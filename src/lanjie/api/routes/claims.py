"""Returns on their way back, claims against carriers, and the shop's carrier contracts."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as Path_
from fastapi.responses import JSONResponse

from lanjie.api import views
from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent
from lanjie.api.responses import (
    PROBLEMS,
    ClaimDetailOut,
    ClaimListOut,
    ClaimOut,
    ContractListOut,
    ContractOut,
    ReturnListOut,
    ReturnOut,
)
from lanjie.api.schemas import (
    ClaimDocumentsIn,
    ClaimEvidenceIn,
    ClaimFileIn,
    ClaimStatusIn,
    CloseIn,
    ContractIn,
    ObjectId,
    PayoutIn,
)
from lanjie.domain.claims import CarrierContract
from lanjie.domain.errors import NotFound
from lanjie.domain.states import ClaimStatus, ReturnStatus
from lanjie.service import claims, returns
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import returns as store
from lanjie.store import tables as t

router = APIRouter(tags=["returns and claims"])
Shop = Annotated[str, Depends(current_shop)]
Carrier = Annotated[str, Query(pattern=r"^[a-z0-9_]{2,40}$", description="a carrier plugin, e.g. kuaidi100")]


# ------------------------------------------------------------------ returns
@router.get("/v1/returns", response_model=ReturnListOut, responses=PROBLEMS,
            summary="Parcels on their way back (filter stalled ones to chase them)")
async def list_returns(request: Request, shop_id: Shop, status: ReturnStatus | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Any:
    def read() -> Any:
        r = t.return_legs
        query = sa.select(r.c.id).where(r.c.shop_id == shop_id)
        if status is not None:
            query = query.where(r.c.status == status)
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            ids = conn.execute(query.order_by(r.c.started_at.desc()).limit(limit)).scalars().all()
            legs = [store.get_leg(conn, shop_id=shop_id, leg_id=i) for i in ids]
        return JSONResponse({"items": [views.return_leg(leg) for leg in legs if leg is not None]})
    return await anyio.to_thread.run_sync(read)


@router.get("/v1/returns/{return_id}", response_model=ReturnOut, responses=PROBLEMS,
            summary="One parcel's way back: scans, estimate, inspection")
async def get_return(return_id: ObjectId, request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            leg = store.get_leg(conn, shop_id=shop_id, leg_id=return_id)
        if leg is None:
            raise NotFound("return", return_id)
        return JSONResponse(views.return_leg(leg))
    return await anyio.to_thread.run_sync(read)


@router.post("/v1/returns/{return_id}/lost", response_model=ReturnOut, responses=PROBLEMS,
             summary="Declare a return lost (stalled, the carrier cannot find it): its loss claim is drafted")
async def declare_lost(return_id: ObjectId, body: CloseIn, request: Request, shop_id: Shop,
                       _: IdempotencyKey = None) -> Any:
    container = request.app.state.container

    def work(uow: UnitOfWork) -> Any:
        leg, _claim_id = returns.declare_lost(uow, shop_id, return_id, note=body.note, settings=container.settings)
        return views.return_leg(leg)
    return await idempotent(request, shop_id, 200, work, on_commit=container.wake)


# ------------------------------------------------------------------ claims
@router.get("/v1/claims", response_model=ClaimListOut, responses=PROBLEMS, summary="The shop's claims, newest first")
async def list_claims(request: Request, shop_id: Shop, status: ClaimStatus | None = None,
                      carrier: Carrier | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Any:
    def read() -> Any:
        c = t.claims
        query = sa.select(c.c.id).where(c.c.shop_id == shop_id)
        if status is not None:
            query = query.where(c.c.status == status)
        if carrier is not None:
            query = query.where(c.c.carrier.like(f"{carrier}:%"))
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
            ids = conn.execute(query.order_by(c.c.created_at.desc()).limit(limit)).scalars().all()
            found = [store.get_claim(conn, shop_id=shop_id, claim_id=i) for i in ids]
        return JSONResponse({"items": [views.claim(f[0]) for f in found if f is not None], "total": total})
    return await anyio.to_thread.run_sync(read)


def _detail(container: Any, claim: Any) -> dict[str, Any]:
    plugin, _, courier = claim.carrier.partition(":")
    return {**views.claim(claim), "evidence": claim.evidence,
            "online": container.gateway.claim_plugin(plugin, courier) is not None}


@router.get("/v1/claims/{claim_id}", response_model=ClaimDetailOut, responses=PROBLEMS,
            summary="A claim with its evidence and whether it can be filed online")
async def get_claim(claim_id: ObjectId, request: Request, shop_id: Shop) -> Any:
    container = request.app.state.container

    def read() -> Any:
        with UnitOfWork(container.for_shop(shop_id, read_only=True), utcnow(), read_only=True) as uow:
            return JSONResponse(_detail(container, claims.Loaded(uow, shop_id, claim_id).claim))
    return await anyio.to_thread.run_sync(read)


@router.post("/v1/claims/{claim_id}/file", status_code=202, response_model=ClaimOut, responses=PROBLEMS,
             summary="File a draft: online through the carrier's API, or record the packet sent by hand")
async def file_claim(claim_id: ObjectId, body: ClaimFileIn, request: Request, shop_id: Shop,
                     _: IdempotencyKey = None) -> Any:
    container = request.app.state.container

    def work(uow: UnitOfWork) -> Any:
        claim = claims.Loaded(uow, shop_id, claim_id).claim
        plugin, _, courier = claim.carrier.partition(":")
        online = container.gateway.claim_plugin(plugin, courier) is not None
        return views.claim(claims.file(uow, shop_id, claim_id, via=body.via, online=online,
                                       carrier_ref=body.carrier_ref))
    return await idempotent(request, shop_id, 202, work, on_commit=container.wake)


@router.post("/v1/claims/{claim_id}/status", response_model=ClaimOut, responses=PROBLEMS,
             summary="What the carrier said of a claim filed by hand (review, documents asked, approval, rejection)")
async def claim_status(claim_id: ObjectId, body: ClaimStatusIn, request: Request, shop_id: Shop,
                       _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        return views.claim(claims.carrier_said(uow, shop_id, claim_id, body.status, approved_fen=body.approved_fen,
                                               message=body.message, documents=list(body.documents)))
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


@router.post("/v1/claims/{claim_id}/evidence", response_model=ClaimOut, responses=PROBLEMS,
             summary="Attach uploaded files (photos, documents; POST /v1/files first) to a claim not yet closed")
async def claim_evidence(claim_id: ObjectId, body: ClaimEvidenceIn, request: Request, shop_id: Shop,
                         _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        return views.claim(claims.add_evidence(uow, shop_id, claim_id, list(body.file_ids), body.note))
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


@router.post("/v1/claims/{claim_id}/documents", response_model=ClaimOut, responses=PROBLEMS,
             summary="The documents the carrier asked for were sent (evidence file ids)")
async def claim_documents(claim_id: ObjectId, body: ClaimDocumentsIn, request: Request, shop_id: Shop,
                          _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        return views.claim(claims.documents_sent(uow, shop_id, claim_id, list(body.file_ids)))
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


@router.post("/v1/claims/{claim_id}/payouts", response_model=ClaimOut, responses=PROBLEMS,
             summary="Record the carrier's payout (paid offline): amount, reference and date")
async def claim_payout(claim_id: ObjectId, body: PayoutIn, request: Request, shop_id: Shop,
                       _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        return views.claim(claims.record_payout(uow, shop_id, claim_id, amount_fen=body.amount_fen,
                                                reference=body.reference, paid_at=body.paid_at))
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


@router.post("/v1/claims/{claim_id}/close", response_model=ClaimOut, responses=PROBLEMS, summary="Close a claim")
async def close_claim(claim_id: ObjectId, body: CloseIn, request: Request, shop_id: Shop,
                      _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        return views.claim(claims.close(uow, shop_id, claim_id, body.note))
    return await idempotent(request, shop_id, 200, work, on_commit=request.app.state.container.wake)


# ------------------------------------------------------------------ contracts
def _contract(c: CarrierContract) -> dict[str, Any]:
    return {"carrier": c.carrier, "rule": c.rule, "cap_multiple": c.cap_multiple, "cap_fen": c.cap_fen,
            "filing_days": c.filing_days}


@router.get("/v1/carrier-contracts", response_model=ContractListOut, responses=PROBLEMS, tags=["shop"],
            summary="What the shop's contracts with carriers say about compensation")
async def list_contracts(request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with request.app.state.container.for_shop(shop_id, read_only=True).connect() as conn:
            return {"items": [_contract(c) for c in store.contracts_of(conn, shop_id=shop_id)]}
    return await anyio.to_thread.run_sync(read)


@router.put("/v1/carrier-contracts/{carrier}", response_model=ContractOut, responses=PROBLEMS, tags=["shop"],
            summary="Set the contract with a carrier plugin (`*` for the shop's default)")
async def put_contract(carrier: Annotated[str, Path_(pattern=r"^([a-z0-9_]{2,40}|\*)$")], body: ContractIn,
                       request: Request, shop_id: Shop) -> Any:
    contract = CarrierContract(carrier=carrier, rule=body.rule, cap_multiple=body.cap_multiple, cap_fen=body.cap_fen,
                               filing_days=body.filing_days)

    def write() -> Any:
        with request.app.state.container.for_shop(shop_id).begin() as conn:
            store.set_contract(conn, shop_id=shop_id, contract=contract, now=utcnow())
        return _contract(contract)
    return await anyio.to_thread.run_sync(write)
