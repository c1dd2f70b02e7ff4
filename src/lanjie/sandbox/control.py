"""The sandbox's control API under ``/control``: JSON, separate from any carrier protocol.

It creates parcels, moves the clock, forces intercept outcomes, injects loss and damage, sets
faults, registers accounts, steers the claims adjudicator (forced outcomes, documents supplied, a
parcel's freight and insured value) and shows what the sandbox received, sent and decided. Tests and the demo use it;
a real carrier has nothing like it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from lanjie.domain.states import TrackingStatus
from lanjie.sandbox.claims import FiledClaim, Forced, Outcome, Terms
from lanjie.sandbox.faults import FaultPlan
from lanjie.sandbox.model import ForcedOutcome, InterceptTask, Parcel, PushAttempt, RequestLogEntry, Scan
from lanjie.sandbox.route import City, Contact, Party, ScanCode, city_named, find_city
from lanjie.sandbox.world import WorldError

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld


class Stage(StrEnum):
    """Where a new parcel starts."""

    created = "created"
    picked_up = "picked_up"
    in_transit = "in_transit"
    at_destination = "at_destination"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"


class InjectKind(StrEnum):
    lost = "lost"
    damaged = "damaged"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyIn(_Body):
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field("", max_length=20)
    address: str = Field("", max_length=200)
    city: str = Field("", max_length=20)  # e.g. 杭州; chosen at random when empty


class ParcelIn(_Body):
    carrier: str = Field(min_length=1, max_length=40)  # "kuaidi100:zto" or "zto"
    waybill_no: str = Field(pattern=r"^[A-Za-z0-9-]{4,40}$")
    stage: Stage
    sender: PartyIn | None = None
    recipient: PartyIn | None = None


class AdvanceIn(_Body):
    seconds: float = Field(ge=0, le=366 * 86400)


class ClockIn(_Body):
    time_factor: float = Field(ge=0, le=1_000_000)


class OutcomeIn(_Body):
    outcome: ForcedOutcome
    message: str = Field("", max_length=200)


class InjectIn(_Body):
    kind: InjectKind


class CarrierAccountIn(_Body):
    credentials: dict[str, Annotated[str, Field(min_length=1, max_length=500)]] = Field(min_length=1)
    expired: bool = False


class AccountIn(_Body):
    key: str = Field(min_length=1, max_length=100)
    customer: str = Field(min_length=1, max_length=100)
    secret: str = Field(min_length=1, max_length=200)
    expired: bool = False


class ClaimOutcomeIn(_Body):
    waybill_no: str = Field(pattern=r"^[A-Za-z0-9-]{4,40}$")
    outcome: Outcome
    approved_minor: int | None = Field(None, ge=1, le=10**9)  # fen or cents; approvals only
    documents: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list, max_length=10)


class ClaimWaybillIn(_Body):
    waybill_no: str = Field(pattern=r"^[A-Za-z0-9-]{4,40}$")


class ClaimTermsIn(_Body):
    waybill_no: str = Field(pattern=r"^[A-Za-z0-9-]{4,40}$")
    freight_minor: int = Field(ge=0, le=10**9)
    insured_minor: int = Field(0, ge=0, le=10**9)  # insured (China) or declared (US) value; 0: none


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _party(party: Party) -> dict[str, str]:
    return {"name": party.name, "phone": party.phone, "address": party.address, "city": party.city.name}


def _scan(scan: Scan) -> dict[str, Any]:
    return {"at": _iso(scan.at), "status": scan.status, "code": scan.code, "location": scan.node.name,
            "context": scan.context}


def _task(task: InterceptTask) -> dict[str, Any]:
    return {
        "task_id": task.task_id, "type": task.intercept_type, "state": task.state,
        "accepted_at": _iso(task.accepted_at), "effective_at": _iso(task.effective_at),
        "outcome": task.outcome, "message": task.message, "resolved_at": _iso(task.resolved_at),
        "forced": task.forced, "requested_by": task.requested_by, "fee_minor": task.fee_minor,
    }


def _push(attempt: PushAttempt) -> dict[str, Any]:
    return {
        "seq": attempt.seq, "at": _iso(attempt.at), "channel": attempt.channel, "url": attempt.url,
        "attempt": attempt.attempt, "result": attempt.result, "http_status": attempt.http_status,
        "summary": attempt.summary, "fault": attempt.fault, "detail": attempt.detail,
    }


def _request(entry: RequestLogEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq, "at": _iso(entry.at), "channel": entry.channel, "path": entry.path,
        "method": entry.method, "waybill_no": entry.waybill_no, "http_status": entry.http_status,
        "code": entry.code, "message": entry.message, "account": entry.account, "task_id": entry.task_id,
        "held_seconds": entry.held_seconds,
    }


def claim_view(claim: FiledClaim) -> dict[str, Any]:
    """A claim as the adjudicator holds it, whatever protocol filed it."""
    return {
        "claim_id": claim.claim_id, "protocol": claim.protocol, "waybill_no": claim.waybill_no, "kind": claim.kind,
        "status": claim.status, "asked_minor": claim.asked_minor, "currency": claim.currency,
        "approved_minor": claim.approved_minor, "paid_minor": claim.paid_minor, "reason": claim.reason,
        "documents_requested": list(claim.documents_requested), "evidence": sorted(claim.evidence),
        "reference": claim.reference, "filed_at": _iso(claim.filed_at), "status_at": _iso(claim.status_at),
        "forced": claim.forced.outcome if claim.forced is not None else None,
        "history": [{"at": _iso(at), "status": step, "detail": detail} for at, step, detail in claim.history],
    }


def parcel_view(world: SandboxWorld, parcel: Parcel) -> dict[str, Any]:
    """A parcel as the control API shows it; ``history`` is newest first, like Kuaidi100's."""
    return {
        "carrier_code": parcel.carrier_code,
        "waybill_no": parcel.waybill_no,
        "stage": parcel.last_scan.code,  # the newest scan, finer than status (e.g. arrived_hub)
        "status": parcel.status,
        "next_scan_at": _iso(parcel.next_scan_at),
        "route": [node.name for node in parcel.route.nodes],
        "sender": _party(parcel.sender),
        "recipient": _party(parcel.recipient),
        "history": [_scan(scan) for scan in reversed(parcel.scans)],
        "intercept": _task(parcel.intercept) if parcel.intercept is not None else None,
        "cancelled_intercepts": [_task(task) for task in parcel.past_intercepts],
        "forced_outcome": parcel.forced_outcome[0] if parcel.forced_outcome is not None else None,
        "pushes": [_push(attempt) for attempt in world.push_log.get(parcel.waybill_no, [])],
    }


def _carrier_code(world: SandboxWorld, carrier: str) -> str:
    """The courier code of ``kuaidi100:zto``, ``sf:sf`` or ``zto`` (the protocol prefix names a twin)."""
    protocol, _, code = carrier.strip().lower().rpartition(":")
    if protocol not in ("", "kuaidi100", *world.twins):
        known = ", ".join(["kuaidi100", *sorted(world.twins)])
        raise WorldError(422, f"carrier: the sandbox speaks {known}, not {protocol!r}")
    return code


def _contact(party: PartyIn | None) -> Contact | None:
    return Contact(party.name, party.phone, party.address) if party is not None else None


def _city(party: PartyIn | None) -> City | None:
    """The party's city as given, else the sandbox city its address names, else None (chosen at random)."""
    if party is None:
        return None
    return city_named(party.city) if party.city else find_city(party.address)


def control_router(world: SandboxWorld) -> APIRouter:
    """Routes of the control API, to be included under ``/control``."""
    router = APIRouter()

    def clock_view() -> dict[str, Any]:
        return {"now": _iso(world.clock.now()), "time_factor": world.clock.time_factor}

    @router.post("/parcels", status_code=201, summary="Create a parcel at a stage")
    async def create_parcel(body: ParcelIn) -> dict[str, Any]:
        parcel = world.create_parcel(
            carrier_code=_carrier_code(world, body.carrier), waybill_no=body.waybill_no,
            stage=TrackingStatus(body.stage.value), origin=_city(body.sender), destination=_city(body.recipient),
            sender=_contact(body.sender), recipient=_contact(body.recipient),
        )
        return parcel_view(world, parcel)

    @router.get("/parcels/{waybill_no}", summary="A parcel, its history, intercept and pushes")
    async def get_parcel(waybill_no: str) -> dict[str, Any]:
        return parcel_view(world, world.parcel(waybill_no))

    @router.post("/parcels/{waybill_no}/outcome", summary="Force the intercept outcome")
    async def force_outcome(waybill_no: str, body: OutcomeIn) -> dict[str, Any]:
        return parcel_view(world, world.force_outcome(waybill_no, body.outcome, body.message))

    @router.post("/parcels/{waybill_no}/inject", summary="Lose or damage a parcel")
    async def inject(waybill_no: str, body: InjectIn) -> dict[str, Any]:
        return parcel_view(world, world.inject(waybill_no, ScanCode(body.kind.value)))

    @router.get("/clock", summary="Sim time now and the time factor")
    async def get_clock() -> dict[str, Any]:
        return clock_view()

    @router.put("/clock", summary="Change the time factor")
    async def put_clock(body: ClockIn) -> dict[str, Any]:
        world.clock.set_time_factor(body.time_factor)
        return clock_view()

    @router.post("/clock/advance", summary="Move sim time forward and run everything due")
    async def advance(body: AdvanceIn) -> dict[str, Any]:
        ran = await world.advance(body.seconds)
        return {**clock_view(), "actions_run": ran}

    @router.post("/settle", summary="Run what is due and wait for pushes in flight")
    async def settle() -> dict[str, Any]:
        ran = await world.settle()
        return {**clock_view(), "actions_run": ran}

    @router.get("/faults", summary="Fault settings in force")
    async def get_faults() -> dict[str, Any]:
        return world.faults.plan.model_dump(mode="json")

    @router.put("/faults", summary="Replace the fault settings")
    async def put_faults(body: FaultPlan) -> dict[str, Any]:
        world.faults.set_plan(body)
        return world.faults.plan.model_dump(mode="json")

    @router.get("/requests", summary="Protocol requests received, oldest first")
    async def requests(waybill_no: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        log = world.request_log
        return {"requests": [_request(e) for e in log if waybill_no is None or e.waybill_no == waybill_no]}

    @router.post("/accounts", status_code=201, summary="Register a Kuaidi100 account")
    async def register_account(body: AccountIn) -> dict[str, Any]:
        other = next((a for a in world.kuaidi100.accounts.values()
                      if a.customer == body.customer and a.key != body.key), None)
        if other is not None:
            raise WorldError(409, f"customer: {body.customer!r} already belongs to another key")
        account = world.kuaidi100.register_account(body.key, body.customer, body.secret, body.expired)
        return {"key": account.key, "customer": account.customer, "expired": account.expired}

    @router.post("/carriers/{name}/accounts", status_code=201, summary="Register an account with a carrier twin")
    async def register_carrier_account(name: str, body: CarrierAccountIn) -> dict[str, Any]:
        twin = world.twins.get(name)
        if twin is None:
            raise WorldError(404, f"name: no carrier twin {name!r} (known: {', '.join(sorted(world.twins))})")
        return twin.register_account(body.credentials, body.expired)

    @router.post("/claims/outcome", summary="Force the next outcome of a waybill's claim")
    async def force_claim_outcome(body: ClaimOutcomeIn) -> dict[str, Any]:
        approval = body.outcome in (Outcome.approved, Outcome.approved_partial)
        if body.approved_minor is not None and not approval:
            raise WorldError(422, "approved_minor: only an approval has an amount")
        if body.documents and body.outcome is not Outcome.waiting_on_documents:
            raise WorldError(422, "documents: only waiting_on_documents asks for documents")
        claim = world.claims.force(body.waybill_no, Forced(body.outcome, body.approved_minor, tuple(body.documents)))
        # Without an open claim the outcome waits for the waybill's next one.
        return {"claim": claim_view(claim) if claim is not None else None, "applies_to": "open" if claim else "next"}

    @router.post("/claims/documents", summary="The documents a claim waits for were sent")
    async def supply_claim_documents(body: ClaimWaybillIn) -> dict[str, Any]:
        claim = world.claims.supply_documents(body.waybill_no)
        if claim is None:
            raise WorldError(409, f"waybill_no: no claim of {body.waybill_no!r} is waiting for documents")
        return claim_view(claim)

    @router.post("/claims/terms", summary="A parcel's freight and insured value, for the payout caps")
    async def claim_terms(body: ClaimTermsIn) -> dict[str, Any]:
        world.claims.set_terms(body.waybill_no, Terms(body.freight_minor, body.insured_minor))
        return body.model_dump()

    @router.get("/claims", summary="Claims filed with the carrier twins, oldest first")
    async def claims(waybill_no: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        return {"claims": [claim_view(c) for c in world.claims.claims
                           if waybill_no is None or c.waybill_no == waybill_no]}

    @router.get("/carriers", summary="The carrier twins and their default test credentials")
    async def carriers() -> dict[str, Any]:
        return {"kuaidi100": {"prefix": "/kuaidi100"},
                **{name: {"prefix": f"/{name}", "test_credentials": dict(twin.test_credentials)}
                   for name, twin in world.twins.items()}}

    return router
