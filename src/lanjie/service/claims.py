"""Claims (理赔) for intercepted parcels lost, damaged or short on the way back.

A claim is drafted with its evidence already attached — the tracking history, the carrier's intercept
answers, the order's items and values, insured value, freight, the inspection and its photos — and an
amount from the shop's contract with the carrier (``domain.claims.claim_amount``). It is filed online
where the carrier (or the aggregator that files for it: Kuaidi100's work orders) has a claim API, and as
a packet sent by hand elsewhere; then followed (queried, pushed, or typed in by a person) until the
payout is recorded with its reference and date.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from lanjie.carriers.base import ClaimState
from lanjie.domain.claims import Claim, claim_amount
from lanjie.domain.errors import NotFound, RuleViolation
from lanjie.domain.model import Shipment
from lanjie.domain.returns import ReturnLeg
from lanjie.domain.states import ClaimStatus, ClaimType
from lanjie.files import files_of
from lanjie.service.ids import new_id
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.settings import Settings
from lanjie.store import returns as store
from lanjie.store import tables as t

log = logging.getLogger("lanjie.claims")
FILE_CLAIM = "claim.file"
POLL_CLAIM = "claim.poll"
#: Carrier exchanges that are the carrier's answers about the intercept (kept as claim evidence).
_INTERCEPT_OPERATIONS = ("intercept", "query_intercept", "cancel_intercept", "precheck")


def goods_value(shipment: Shipment) -> int:
    """The value of all the goods in the parcel (what the buyer paid for them)."""
    return sum(i.qty * i.price_fen for i in shipment.items)


def _intercept_answers(conn: sa.Connection, shop_id: str, case_id: str) -> list[dict[str, Any]]:
    x = t.carrier_exchanges
    rows = conn.execute(sa.select(x).where(x.c.shop_id == shop_id, x.c.aftersale_id == case_id,
                                           x.c.operation.in_(_INTERCEPT_OPERATIONS)).order_by(x.c.id))
    return [{"id": r.id, "carrier": r.carrier, "operation": r.operation, "status_code": r.status_code,
             "response_body": r.response_body, "at": r.created_at.isoformat()} for r in rows]


def evidence_of(conn: sa.Connection, leg: ReturnLeg, shipment: Shipment) -> dict[str, Any]:
    """What a claim rests on, gathered when it is drafted."""
    return {
        "tracking": shipment.tracking_events,
        "intercept_answers": _intercept_answers(conn, leg.shop_id, leg.aftersale_id),
        "order": {"order_id": shipment.order_id, "waybill_no": shipment.waybill_no,
                  "carrier": f"{shipment.carrier}:{shipment.carrier_code}",
                  "items": [{"sku": i.sku, "name": i.name, "qty": i.qty, "price_fen": i.price_fen}
                            for i in shipment.items],
                  "value_fen": shipment.value_fen, "insured_fen": shipment.insured_fen,
                  "freight_fen": shipment.freight_fen},
        "return": {"status": leg.status, "started_at": leg.started_at.isoformat(),
                   "last_scan_at": leg.last_scan_at.isoformat() if leg.last_scan_at else None},
        "inspection": {"result": leg.inspection, "note": leg.inspection_note, "photos": list(leg.photos),
                       "items": [{"sku": i.sku, "expected": i.expected, "received": i.received} for i in leg.items]},
    }


def draft(uow: UnitOfWork, leg: ReturnLeg, shipment: Shipment, kind: ClaimType, *, loss_fen: int,
          settings: Settings) -> Claim:
    """Draft the claim of this kind for the parcel (once: a second report finds the first draft)."""
    existing = store.claim_for(uow.conn, shop_id=leg.shop_id, shipment_id=shipment.id, type=kind)
    if existing is not None:
        return existing[0]
    contract = store.contract_for(uow.conn, shop_id=leg.shop_id, carrier=shipment.carrier)
    amount = claim_amount(contract, loss_fen=loss_fen, insured_fen=shipment.insured_fen,
                          freight_fen=shipment.freight_fen)
    claim = Claim.draft(id=new_id("clm"), shop_id=leg.shop_id, aftersale_id=leg.aftersale_id, return_id=leg.id,
                        shipment_id=shipment.id, carrier=f"{shipment.carrier}:{shipment.carrier_code}",
                        waybill_no=shipment.waybill_no, type=kind, amount_fen=amount.fen, basis=amount.basis,
                        filing_deadline_at=uow.now + contract.filing_window(), created_at=uow.now,
                        evidence=evidence_of(uow.conn, leg, shipment))
    store.add_claim(uow.conn, claim, uow.now)
    uow.track(claim)
    return claim


class Loaded:
    """A claim read for change in a unit of work, written back by compare-and-set."""

    def __init__(self, uow: UnitOfWork, shop_id: str, claim_id: str) -> None:
        found = store.get_claim(uow.conn, shop_id=shop_id, claim_id=claim_id, for_update=not uow.read_only)
        if found is None:
            raise NotFound("claim", claim_id)
        self.uow, (self.claim, self.version) = uow, found

    def save(self) -> Claim:
        self.version = store.save_claim(self.uow.conn, self.claim, self.version, self.uow.now)
        self.uow.track(self.claim)
        return self.claim


def file(uow: UnitOfWork, shop_id: str, claim_id: str, *, via: str, online: bool, carrier_ref: str = "") -> Claim:
    """File a draft: ``online`` queues the carrier call (the answer comes back as events); ``packet`` records
    that a person sent the packet."""
    loaded = Loaded(uow, shop_id, claim_id)
    claim = loaded.claim
    if claim.status != ClaimStatus.draft:
        raise RuleViolation("claim_filed", f"claim {claim.id} is {claim.status}, not a draft")
    if via == "online":
        if not online:
            raise RuleViolation("not_supported", f"{claim.carrier} has no claim API: send the packet "
                                                 "(GET /v1/claims/{id}/packet.pdf and packet.json) and record it "
                                                 "as filed via packet")
        uow.enqueue(FILE_CLAIM, {"shop_id": shop_id, "claim_id": claim.id}, key=f"claim-file:{claim.id}",
                    shop_id=shop_id, concurrency_key=f"carrier:{claim.carrier.partition(':')[0]}")
        return claim
    claim.file(uow.now, via="packet", carrier_ref=carrier_ref)
    return loaded.save()


def carrier_said(uow: UnitOfWork, shop_id: str, claim_id: str, status: ClaimStatus, *,
                 approved_fen: int | None = None, message: str = "", documents: list[str] | None = None) -> Claim:
    """What the carrier said of the claim (its API, a push, or a person typing it in)."""
    loaded = Loaded(uow, shop_id, claim_id)
    loaded.claim.carrier_said(status, approved_fen=approved_fen, message=message, documents=documents)
    return loaded.save()


def documents_sent(uow: UnitOfWork, shop_id: str, claim_id: str, file_ids: list[str]) -> Claim:
    loaded = Loaded(uow, shop_id, claim_id)
    _own_files(uow, shop_id, file_ids)
    loaded.claim.documents_sent(uow.now, file_ids)
    return loaded.save()


def add_evidence(uow: UnitOfWork, shop_id: str, claim_id: str, file_ids: list[str], note: str = "") -> Claim:
    """Attach the shop's uploaded files (``POST /v1/files``) to a claim; an id that is not the shop's file is
    refused and nothing is attached."""
    loaded = Loaded(uow, shop_id, claim_id)
    _own_files(uow, shop_id, file_ids)
    loaded.claim.add_evidence(uow.now, file_ids, note)
    return loaded.save()


def _own_files(uow: UnitOfWork, shop_id: str, file_ids: list[str]) -> None:
    found = {f.id for f in files_of(uow.conn, shop_id=shop_id, ids=file_ids)}
    missing = [f for f in file_ids if f not in found]
    if missing:
        raise RuleViolation("file_ids", f"no file {missing[0]} in this shop: upload it with POST /v1/files first")


def record_payout(uow: UnitOfWork, shop_id: str, claim_id: str, *, amount_fen: int, reference: str,
                  paid_at: datetime) -> Claim:
    loaded = Loaded(uow, shop_id, claim_id)
    loaded.claim.payout(amount_fen=amount_fen, reference=reference, paid_at=paid_at)
    return loaded.save()


def close(uow: UnitOfWork, shop_id: str, claim_id: str, note: str = "") -> Claim:
    loaded = Loaded(uow, shop_id, claim_id)
    loaded.claim.close(note=note)
    return loaded.save()


def apply_state(claim: Claim, state: ClaimState) -> bool:
    """What the carrier says now, taken by the claim (a stale word is ignored)."""
    return claim.carrier_said(state.status, approved_fen=state.approved_minor, message=state.message,
                              documents=list(state.documents_requested))


def apply_pushed(u: UnitOfWork, shop_id: str, state: ClaimState) -> bool:
    """A claim's progress pushed by the carrier (the claim is found by the carrier's number)."""
    found = store.claim_by_ref(u.conn, shop_id=shop_id, carrier_ref=state.claim_ref)
    if found is None:
        log.warning("claim push for unknown claim %s (shop %s)", state.claim_ref, shop_id)
        return False
    loaded = Loaded(u, shop_id, found[0].id)
    changed = apply_state(loaded.claim, state)
    loaded.save()
    return changed
