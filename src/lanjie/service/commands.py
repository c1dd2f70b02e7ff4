"""Use cases the API and the CLI call: one function per command, each in one unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lanjie.domain.errors import DomainError, NotFound, RuleViolation
from lanjie.domain.model import AfterSale, Intercept, Item, Party, Shipment
from lanjie.domain.rules import interceptability
from lanjie.domain.states import CaseType, InterceptStatus, InterceptType
from lanjie.service import shops
from lanjie.service.ids import new_id
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import repository

SUBMIT_INTERCEPT = "intercept.submit"
CONFIRM_INTERCEPT = "intercept.confirm"
EXECUTE_REFUND = "refund.execute"
SUBSCRIBE_TRACKING = "tracking.subscribe"
PROCESS_INBOX = "inbox.process"
CANCEL_INTERCEPT = "intercept.cancel"
POLL_TRACKING = "tracking.poll"
CONFIRM_RECEIVED = "channel.confirm_received"
REJECT_ON_PLATFORM = "channel.reject"


@dataclass(frozen=True)
class NewShipment:
    carrier: str  # plugin name, e.g. kuaidi100
    carrier_code: str  # courier, e.g. zto
    waybill_no: str
    order_id: str
    items: list[Item]
    value_fen: int
    freight_fen: int
    sender: Party
    recipient: Party
    insured_fen: int | None = None


def register_shipment(uow: UnitOfWork, shop_id: str, cmd: NewShipment) -> Shipment:
    """Record a shipped parcel and subscribe to its tracking."""
    if shops.account_for(uow.conn, shop_id, cmd.carrier) is None:
        raise RuleViolation("carrier", f"no {cmd.carrier} carrier account is configured for this shop")
    if uow.shipment_by_waybill(shop_id, cmd.waybill_no) is not None:
        raise RuleViolation("waybill_no", f"waybill {cmd.waybill_no} is already registered")
    shipment = Shipment.register(
        id=new_id("shp"), shop_id=shop_id, carrier=cmd.carrier, carrier_code=cmd.carrier_code,
        waybill_no=cmd.waybill_no, order_id=cmd.order_id, items=cmd.items, value_fen=cmd.value_fen,
        freight_fen=cmd.freight_fen, insured_fen=cmd.insured_fen, sender=cmd.sender, recipient=cmd.recipient,
        created_at=uow.now, updated_at=uow.now)
    uow.add_shipment(shipment)
    uow.enqueue(SUBSCRIBE_TRACKING, {"shop_id": shop_id, "shipment_id": shipment.id},
                key=f"subscribe:{shipment.id}", shop_id=shop_id, concurrency_key=f"carrier:{cmd.carrier}")
    return shipment


@dataclass(frozen=True)
class NewCase:
    order_id: str
    type: CaseType
    refund_fen: int
    waybill_nos: list[str]
    reason: str = ""
    channel: str = "rest"
    channel_ref: str | None = None
    channel_version: str | None = None  # the platform's optimistic lock (Douyin update_time, Taobao refund_version)
    paid_fen: int | None = None  # what the buyer paid for what the request covers, when known
    deadline_at: datetime | None = None  # when the platform acts by itself (status_deadline)
    parcel_may_be_unknown: bool = False  # a platform's case: opened for a person to link when no parcel is found


def open_case(uow: UnitOfWork, shop_id: str, cmd: NewCase) -> AfterSale:
    """Open an after-sale case on registered parcels."""
    shop = shops.get_shop(uow.conn, shop_id)
    assert shop is not None
    if cmd.channel_ref is not None and repository.case_by_channel_ref(
            uow.conn, shop_id=shop_id, channel=cmd.channel, channel_ref=cmd.channel_ref) is not None:
        raise RuleViolation("channel_ref", f"a case for {cmd.channel} {cmd.channel_ref} already exists")
    shipment_ids = []
    for waybill_no in dict.fromkeys(cmd.waybill_nos):
        shipment = uow.shipment_by_waybill(shop_id, waybill_no)
        if shipment is None:
            raise RuleViolation("waybill_nos", f"waybill {waybill_no} is not registered (POST /v1/shipments)")
        if shipment.order_id != cmd.order_id:
            raise RuleViolation("waybill_nos", f"waybill {waybill_no} belongs to order {shipment.order_id}, "
                                               f"not {cmd.order_id}")
        shipment_ids.append(shipment.id)
    case = AfterSale.open(
        parcel_may_be_unknown=cmd.parcel_may_be_unknown, id=new_id("as"), shop_id=shop_id, order_id=cmd.order_id,
        type=cmd.type, refund_fen=cmd.refund_fen,
        shipment_ids=shipment_ids, settlement_policy=shop.settlement_policy, created_at=uow.now,
        updated_at=uow.now, reason=cmd.reason, channel=cmd.channel, channel_ref=cmd.channel_ref,
        channel_version=cmd.channel_version, paid_fen=cmd.paid_fen, deadline_at=cmd.deadline_at)
    uow.add_case(case)
    from lanjie.service import autointercept, deadlines  # they act through these commands

    if autointercept.needs_evaluation(uow, case):
        autointercept.enqueue_evaluation(uow, case, trigger="opened")
    deadlines.schedule(uow, case)
    return case


def load_case(uow: UnitOfWork, shop_id: str, case_id: str) -> AfterSale:
    """The shop's case, or NotFound (another shop's case is not found either)."""
    case = uow.case(shop_id, case_id)
    if case is None:
        raise NotFound("aftersale", case_id)
    return case


def request_intercepts(uow: UnitOfWork, shop_id: str, case_id: str, *, type: InterceptType,
                       address: Party | None = None, waybill_nos: list[str] | None = None,
                       offered: Callable[[str], frozenset[InterceptType]] | None = None) -> list[Intercept]:
    """Ask the carrier to stop the case's parcels; the answer comes back as events.

    ``offered`` names the intercept types a parcel's carrier plugin can send (from the gateway);
    a type the carrier does not offer is refused before anything is written.
    """
    case = load_case(uow, shop_id, case_id)
    targets = [uow.shipment(shop_id, sid) for sid in case.shipment_ids]
    parcels = [s for s in targets if s is not None]
    if waybill_nos:
        unknown = set(waybill_nos) - {s.waybill_no for s in parcels}
        if unknown:
            raise RuleViolation("waybill_nos", f"not parcels of this case: {', '.join(sorted(unknown))}")
        parcels = [s for s in parcels if s.waybill_no in waybill_nos]
    for s in parcels:
        types = offered(s.carrier) if offered is not None else None
        if types is not None and type not in types:
            choices = ", ".join(sorted(types)) or "none: it cannot intercept"
            raise RuleViolation("type", f"{s.carrier} cannot send a {type} intercept for {s.waybill_no} "
                                        f"(it offers {choices})")
    created = [case.request_intercept(intercept_id=new_id("icp"), shipment=s, type=type, now=uow.now,
                                      address=address) for s in parcels]
    uow.save(case)
    for icpt, shipment in zip(created, parcels, strict=True):
        uow.enqueue(SUBMIT_INTERCEPT, {"shop_id": shop_id, "case_id": case.id, "intercept_id": icpt.id},
                    key=f"submit:{icpt.id}", shop_id=shop_id, concurrency_key=f"carrier:{shipment.carrier}")
    return created


@dataclass(frozen=True)
class BatchItem:
    case_id: str
    type: InterceptType
    address: Party | None = None
    waybill_nos: list[str] | None = None


def request_intercepts_batch(uow: UnitOfWork, shop_id: str, items: list[BatchItem], *,
                             offered: Callable[[str], frozenset[InterceptType]] | None = None,
                             ) -> list[list[Intercept] | DomainError]:
    """Intercept many cases at once: each case on its own savepoint, so a refused one leaves the rest standing.

    The answer has one entry per item, in order: the intercepts created, or why that case was refused.
    A case may appear only once (its changes are undone as a whole when refused).
    """
    seen = [item.case_id for item in items]
    repeated = sorted({case_id for case_id in seen if seen.count(case_id) > 1})
    if repeated:
        raise RuleViolation("items", f"each case at most once per batch; repeated: {', '.join(repeated)}")
    results: list[list[Intercept] | DomainError] = []
    for item in items:
        try:
            with uow.savepoint():
                created = request_intercepts(uow, shop_id, item.case_id, type=item.type, address=item.address,
                                             waybill_nos=item.waybill_nos, offered=offered)
        except DomainError as refused:
            results.append(refused)
            continue
        results.append(created)
    return results


def preview_intercepts(uow: UnitOfWork, shop_id: str, case_id: str) -> list[dict[str, Any]]:
    """Per parcel: can it be intercepted now, and if not why; fee; other items in the same parcel."""
    case = load_case(uow, shop_id, case_id)
    answers = []
    for sid in case.shipment_ids:
        s = uow.shipment(shop_id, sid)
        assert s is not None
        blocked = interceptability(s.tracking_status) if s.tracking_at is not None else None
        if blocked is None and case.active_intercept_for(sid) is not None:
            blocked = "already_intercepted"
        goods_fen = sum(i.qty * i.price_fen for i in s.items)
        answers.append({
            "shipment_id": s.id, "phone_tail": s.recipient.phone[-4:],
            "waybill_no": s.waybill_no, "carrier": f"{s.carrier}:{s.carrier_code}",
            "tracking_status": s.tracking_status, "can_intercept": blocked is None, "reason": blocked,
            # No Chinese carrier publishes its intercept fee; a carrier precheck (UPS charges) fills it in.
            "fee_fen": None, "fee_payer": "sender", "carrier_check": None,
            "items": [vars(i) for i in s.items],
            # 合包: more goods in the parcel than this refund covers means other items travel with it.
            "other_items_value_fen": max(0, goods_fen - case.refund_fen) if len(case.shipment_ids) == 1 else None,
            "shared_with_other_items": len(case.shipment_ids) == 1 and goods_fen > case.refund_fen,
        })
    return answers


def cancel_intercept(uow: UnitOfWork, shop_id: str, case_id: str, intercept_id: str, *,
                     can_cancel: Callable[[str], bool]) -> Intercept:
    """Ask the carrier to withdraw an accepted intercept; ``can_cancel(plugin)`` says who can."""
    case = load_case(uow, shop_id, case_id)
    icpt = case.intercept(intercept_id)
    shipment = uow.shipment(shop_id, icpt.shipment_id)
    assert shipment is not None
    if not can_cancel(shipment.carrier):
        raise RuleViolation("not_supported", f"{shipment.carrier} offers no way to cancel an intercept")
    case.request_intercept_cancel(intercept_id, uow.now)
    uow.save(case)
    _enqueue_cancel(uow, case, icpt, shipment.carrier)
    return icpt


def _enqueue_cancel(uow: UnitOfWork, case: AfterSale, icpt: Intercept, carrier: str) -> None:
    uow.enqueue(CANCEL_INTERCEPT, {"shop_id": case.shop_id, "case_id": case.id, "intercept_id": icpt.id},
                key=f"cancel:{icpt.id}", shop_id=case.shop_id, concurrency_key=f"carrier:{carrier}")


def mark_received(uow: UnitOfWork, shop_id: str, case_id: str) -> AfterSale:
    """The warehouse received the case's returned parcels (settles under the on_received policy)."""
    case = load_case(uow, shop_id, case_id)
    first = case.received_at is None
    case.mark_received(uow.now)
    enqueue_refund_if_new(uow, case)
    uow.save(case)
    # A return the platform waits for (return and refund, or a request the buyer turned into one) is
    # confirmed there too, where it has a way to: Douyin's assistant may then refund by itself.
    if first and case.channel_ref is not None and case.type == CaseType.return_refund:
        uow.enqueue(CONFIRM_RECEIVED, {"shop_id": shop_id, "case_id": case.id}, key=f"received:{case.id}",
                    shop_id=shop_id, concurrency_key=f"channel:{case.channel}")
    return case


def enqueue_refund_if_new(uow: UnitOfWork, case: AfterSale) -> None:
    """Queue the job that records a refund the domain has just decided (the unique key makes it once)."""
    refund = case.live_refund
    if refund is not None and refund.status == "pending":
        uow.enqueue(EXECUTE_REFUND, {"shop_id": case.shop_id, "case_id": case.id, "refund_id": refund.id},
                    key=f"refund:{refund.id}", shop_id=case.shop_id)


def cancel_case(uow: UnitOfWork, shop_id: str, case_id: str,
                can_cancel: Callable[[str], bool] | None = None) -> AfterSale:
    """The buyer withdrew the request; accepted intercepts are withdrawn where the carrier can (``can_cancel``).

    Where it cannot (Kuaidi100 and the carriers behind it), the intercept runs on: the parcel comes
    back to the shop, which is the safe side of a withdrawn refund request.
    """
    case = load_case(uow, shop_id, case_id)
    carriers = {i.id: getattr(uow.shipment(shop_id, i.shipment_id), "carrier", "") for i in case.intercepts}
    withdraw = [i for i in case.intercepts if i.status == InterceptStatus.submitted and can_cancel is not None
                and can_cancel(carriers[i.id])]
    for icpt in withdraw:
        case.request_intercept_cancel(icpt.id, uow.now)
    case.cancel(uow.now)
    uow.save(case)
    for icpt in withdraw:
        _enqueue_cancel(uow, case, icpt, carriers[icpt.id])
    return case


def decide_refund(uow: UnitOfWork, shop_id: str, case_id: str, *, on_refusal: bool, note: str = "") -> AfterSale:
    """A person's decision on a case: refund now, or agree 拒签后退款 (refund once the buyer refuses the parcel)."""
    case = load_case(uow, shop_id, case_id)
    if on_refusal:
        case.agree_refund_on_refusal(note=note)
    else:
        case.refund_by_decision(uow.now, note=note)
        enqueue_refund_if_new(uow, case)
    uow.save(case)
    return case


def reject_case(uow: UnitOfWork, shop_id: str, case_id: str, *, reason_code: str, reason: str,
                evidence: list[str], on_platform: bool) -> AfterSale:
    """Refuse the buyer's request; ``on_platform`` (the channel can refuse) sends it there before it counts here."""
    case = load_case(uow, shop_id, case_id)
    case.request_reject(reason_code=reason_code, reason=reason)
    if on_platform and case.channel_ref is not None:
        uow.enqueue(REJECT_ON_PLATFORM, {"shop_id": shop_id, "case_id": case.id, "reason_code": reason_code,
                                         "reason": reason, "evidence": evidence},
                    key=f"reject:{case.id}:{uow.now.timestamp()}", shop_id=shop_id,
                    concurrency_key=f"channel:{case.channel}")
    else:
        case.reject(uow.now)
    uow.save(case)
    return case
