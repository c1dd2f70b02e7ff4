"""Data access for return legs, claims and carrier contracts: rows in, entities out, every query by shop."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from lanjie.domain.claims import CarrierContract, Claim
from lanjie.domain.returns import ReceivedItem, ReturnLeg
from lanjie.domain.states import ClaimStatus, ClaimType, Inspection, PayoutRule, ReturnStatus
from lanjie.store import tables as t
from lanjie.store.repository import StaleCase

# --------------------------------------------------------------------------- return legs
_LEG_FIELDS = ("id", "shop_id", "aftersale_id", "shipment_id", "waybill_no", "return_waybill_no", "status",
               "started_at", "last_scan_at", "eta_at", "returned_at", "received_at", "inspection",
               "inspection_note")


def _leg_row(leg: ReturnLeg) -> dict[str, Any]:
    row = {name: getattr(leg, name) for name in _LEG_FIELDS}
    row.update(items=[asdict(i) for i in leg.items], photos=list(leg.photos))
    return row


def _leg(row: Any) -> ReturnLeg:
    m = row._mapping
    inspection = Inspection(m["inspection"]) if m["inspection"] else None
    return ReturnLeg(**{name: m[name] for name in _LEG_FIELDS if name not in ("status", "inspection")},
                     status=ReturnStatus(m["status"]), inspection=inspection,
                     items=[ReceivedItem(**i) for i in m["items"]], photos=list(m["photos"]))


def add_leg(conn: sa.Connection, leg: ReturnLeg, now: Any) -> None:
    conn.execute(t.return_legs.insert().values(**_leg_row(leg), created_at=now, updated_at=now))


def save_leg(conn: sa.Connection, leg: ReturnLeg, now: Any) -> None:
    row = _leg_row(leg)
    row.pop("id"), row.pop("shop_id")
    conn.execute(t.return_legs.update().where(t.return_legs.c.id == leg.id).values(**row, updated_at=now))


def leg_for_shipment(conn: sa.Connection, *, shop_id: str, shipment_id: str) -> ReturnLeg | None:
    row = conn.execute(sa.select(t.return_legs).where(t.return_legs.c.shop_id == shop_id,
                                                      t.return_legs.c.shipment_id == shipment_id)).first()
    return _leg(row) if row else None


def leg_by_waybill(conn: sa.Connection, *, shop_id: str, waybill_no: str) -> ReturnLeg | None:
    """The return a scanned number belongs to: its forward waybill or the new number of the return."""
    r = t.return_legs
    row = conn.execute(sa.select(r).where(r.c.shop_id == shop_id, sa.or_(
        r.c.waybill_no == waybill_no, r.c.return_waybill_no == waybill_no)).order_by(r.c.started_at.desc())).first()
    return _leg(row) if row else None


def get_leg(conn: sa.Connection, *, shop_id: str, leg_id: str) -> ReturnLeg | None:
    row = conn.execute(sa.select(t.return_legs).where(t.return_legs.c.shop_id == shop_id,
                                                      t.return_legs.c.id == leg_id)).first()
    return _leg(row) if row else None


def legs_of_case(conn: sa.Connection, *, shop_id: str, case_id: str) -> list[ReturnLeg]:
    rows = conn.execute(sa.select(t.return_legs).where(t.return_legs.c.shop_id == shop_id,
                                                       t.return_legs.c.aftersale_id == case_id)
                        .order_by(t.return_legs.c.started_at))
    return [_leg(r) for r in rows]


# --------------------------------------------------------------------------- claims
_CLAIM_FIELDS = ("id", "shop_id", "aftersale_id", "return_id", "shipment_id", "carrier", "waybill_no", "amount_fen",
                 "basis", "evidence", "filing_deadline_at", "filed_via", "carrier_ref", "filed_at", "approved_fen",
                 "paid_fen", "payouts", "documents_requested", "message")


def _claim_row(claim: Claim) -> dict[str, Any]:
    row = {name: getattr(claim, name) for name in _CLAIM_FIELDS}
    row.update(type=claim.type, status=claim.status, message=claim.message[:500])
    return row


def _claim(row: Any) -> tuple[Claim, int]:
    m = row._mapping
    claim = Claim(**{name: m[name] for name in _CLAIM_FIELDS}, type=ClaimType(m["type"]),
                  status=ClaimStatus(m["status"]), created_at=m["created_at"])
    claim.payouts, claim.documents_requested = list(claim.payouts), list(claim.documents_requested)
    return claim, m["version"]


def add_claim(conn: sa.Connection, claim: Claim, now: Any) -> None:
    conn.execute(t.claims.insert().values(**_claim_row(claim), version=1, created_at=claim.created_at, updated_at=now))


def save_claim(conn: sa.Connection, claim: Claim, version: int, now: Any) -> int:
    """Write a claim back by compare-and-set on its version; StaleCase when someone else won."""
    row = _claim_row(claim)
    row.pop("id"), row.pop("shop_id")
    done = conn.execute(t.claims.update().where(t.claims.c.id == claim.id, t.claims.c.version == version).values(
        **row, version=version + 1, updated_at=now)).rowcount
    if done != 1:
        raise StaleCase(claim.id)
    return version + 1


def get_claim(conn: sa.Connection, *, shop_id: str, claim_id: str,
              for_update: bool = False) -> tuple[Claim, int] | None:
    query = sa.select(t.claims).where(t.claims.c.shop_id == shop_id, t.claims.c.id == claim_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return _claim(row) if row else None


def claim_for(conn: sa.Connection, *, shop_id: str, shipment_id: str, type: ClaimType) -> tuple[Claim, int] | None:
    row = conn.execute(sa.select(t.claims).where(t.claims.c.shop_id == shop_id, t.claims.c.shipment_id == shipment_id,
                                                 t.claims.c.type == type)).first()
    return _claim(row) if row else None


def claim_by_ref(conn: sa.Connection, *, shop_id: str, carrier_ref: str) -> tuple[Claim, int] | None:
    row = conn.execute(sa.select(t.claims).where(t.claims.c.shop_id == shop_id,
                                                 t.claims.c.carrier_ref == carrier_ref)).first()
    return _claim(row) if row else None


def claims_of_case(conn: sa.Connection, *, shop_id: str, case_id: str) -> list[Claim]:
    rows = conn.execute(sa.select(t.claims).where(t.claims.c.shop_id == shop_id, t.claims.c.aftersale_id == case_id)
                        .order_by(t.claims.c.created_at))
    return [_claim(r)[0] for r in rows]


# --------------------------------------------------------------------------- contracts
def contract_for(conn: sa.Connection, *, shop_id: str, carrier: str) -> CarrierContract:
    """The shop's contract with ``carrier`` (a plugin name), else its default (``*``), else the Postal Law's."""
    c = t.carrier_contracts
    rows = {r.carrier: r for r in conn.execute(sa.select(c).where(c.c.shop_id == shop_id,
                                                                  c.c.carrier.in_([carrier, "*"])))}
    row = rows.get(carrier) or rows.get("*")
    if row is None:
        return CarrierContract(carrier=carrier)
    return CarrierContract(carrier=carrier, rule=PayoutRule(row.rule), cap_multiple=row.cap_multiple,
                           cap_fen=row.cap_fen, filing_days=row.filing_days)


def contracts_of(conn: sa.Connection, *, shop_id: str) -> list[CarrierContract]:
    c = t.carrier_contracts
    return [CarrierContract(carrier=r.carrier, rule=PayoutRule(r.rule), cap_multiple=r.cap_multiple,
                            cap_fen=r.cap_fen, filing_days=r.filing_days)
            for r in conn.execute(sa.select(c).where(c.c.shop_id == shop_id).order_by(c.c.carrier))]


def set_contract(conn: sa.Connection, *, shop_id: str, contract: CarrierContract, now: Any) -> None:
    c = t.carrier_contracts
    values = {"rule": contract.rule, "cap_multiple": contract.cap_multiple, "cap_fen": contract.cap_fen,
              "filing_days": contract.filing_days, "updated_at": now}
    updated = conn.execute(c.update().where(c.c.shop_id == shop_id, c.c.carrier == contract.carrier)
                           .values(**values)).rowcount
    if not updated:
        conn.execute(c.insert().values(shop_id=shop_id, carrier=contract.carrier, created_at=now, **values))
