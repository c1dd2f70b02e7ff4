"""Douyin (抖店) as the sandbox plays it: shops, after-sales, deadlines, buyers, arbitration, messages.

The OpenAPI that lanjie calls is in ``douyin_api``; this module holds the state it reads and the
transitions it (and the clock, and the buyers) cause. Codes follow reference sales-platforms.md §1.7:
``after_sale_type`` 0 return-and-refund, 1 refund-only after shipment, 2 refund-only before
shipment; ``after_sale_status`` 6 waiting for the merchant, 7 waiting for the buyer's return, 11 return
shipped, 12 succeeded, 27 rejected, 28 failed/closed; ``refund_status`` 1 pending, 3 succeeded;
``arbitrate_status`` 0 none, 1 in arbitration, 2 for the buyer, 3 for the merchant, 4 waiting for
the merchant's evidence, 255 ended.

**Sandbox choices** (Douyin does not publish these; mirrored in docs/sandbox.md):

* a buyer's cancellation ends the case at status 28 (tag 207); the type is kept;
* when the deadline of a waiting case passes the platform agrees and pays (tags 201 then 206), except
  a return-and-refund, whose return is agreed (tag 202); a case in arbitration has no deadline;
* a deadline that moves (a changed request, a shipped return, the control API) is announced by tag 209;
* arbitration: 212 (buyer applied) → after ``intervene_seconds`` 217 (customer service intervened)
  and 213 (evidence wanted, status 4) → submitEvidence gives 214 → after ``verdict_seconds`` 216 with
  ``arbitrate_conclusion`` 1 (for the buyer: refund, 201 and 206) or 2 (for the merchant: status 28);
* ``s_id`` is the order's single SKU order, a number of its own; ``msg_id`` is a 19-digit number;
  after-sale ids, order ids and msg_ids count from the run's start time, so a restart repeats none.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from lanjie.domain.states import TrackingStatus
from lanjie.sandbox.platforms import buyers
from lanjie.sandbox.platforms.douyin_wire import push_acked, push_body
from lanjie.sandbox.platforms.model import (
    Actor,
    AfterSaleKind,
    BuyerAction,
    BuyerPlan,
    Happening,
    PlatformMessage,
    Resolution,
    Verdict,
    run_numbers,
    unix_seconds,
)
from lanjie.sandbox.platforms.push import MessageSender
from lanjie.sandbox.world import WorldError

if TYPE_CHECKING:
    from lanjie.sandbox.model import Parcel
    from lanjie.sandbox.world import SandboxWorld

#: Douyin logistics company codes the sandbox knows, with their names.
COMPANIES = {"zhongtong": "中通快递", "shentong": "申通快递", "yunda": "韵达快递", "jtexpress": "极兔速递",
             "shunfeng": "顺丰速运", "jd": "京东快递", "yuantong": "圆通速递", "ems": "EMS"}
#: The sandbox world's (canonical) courier codes → Douyin's company codes; a courier missing here (UPS)
#: is one Douyin does not carry, and an after-sale naming its parcel is refused.
COMPANY_OF_COURIER = {"zto": "zhongtong", "sto": "shentong", "yunda": "yunda", "jtexpress": "jtexpress",
                      "shunfeng": "shunfeng", "jd": "jd", "yto": "yuantong", "ems": "ems"}
TYPE_OF_KIND = {AfterSaleKind.return_refund: 0, AfterSaleKind.refund_only_shipped: 1,
                AfterSaleKind.refund_only_unshipped: 2}
KIND_OF_TYPE = {code: kind for kind, code in TYPE_OF_KIND.items()}


class Status(IntEnum):
    waiting = 6  # 售后申请: waiting for the merchant
    awaiting_return = 7  # 售后退货中: return agreed, waiting for the buyer to ship it
    return_shipped = 11  # 售后已发货: the buyer shipped the return
    succeeded = 12
    rejected = 27
    closed = 28  # 售后失败 (also the end of a cancelled case)


class Arbitration(IntEnum):
    none = 0
    open = 1
    for_buyer = 2
    for_merchant = 3
    wants_evidence = 4
    ended = 255


@dataclass
class DouyinShop:
    app_key: str
    app_secret: str
    access_token: str
    shop_id: int
    push_url: str | None = None
    assistant_strategy: bool = False  # 售后小助手 "auto-refund on return to warehouse" is on


@dataclass
class DouyinAfterSale:
    aftersale_id: int
    shop: DouyinShop
    kind: AfterSaleKind
    p_id: int
    s_id: int
    refund_fen: int
    paid_fen: int
    waybill_no: str
    company_code: str
    reason: str
    apply_time: int
    plan: BuyerPlan
    verdict: Verdict
    status: Status = Status.waiting
    refund_status: int = 1
    update_time: int = 0
    status_deadline: int = 0
    arbitration: Arbitration = Arbitration.none
    arbitrate_id: str = ""
    arbitrate_conclusion: int = 0
    arbitrate_create_time: int = 0
    back_office_only: bool = False  # operate answers 11001
    return_tracking_no: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    resolution: Resolution | None = None
    refund_paid_at: datetime | None = None
    merchant_answered: bool = False
    history: list[Happening] = field(default_factory=list)
    messages: list[PlatformMessage] = field(default_factory=list)
    order: asyncio.Lock = field(default_factory=asyncio.Lock)
    deadline_generation: int = 0
    arbitration_generation: int = 0

    @property
    def after_sale_type(self) -> int:
        return TYPE_OF_KIND[self.kind]

    @property
    def finished(self) -> bool:
        return self.status in (Status.succeeded, Status.closed)


class DouyinPlatform:
    """The Douyin side of the simulator."""

    name = "douyin"
    test_credentials = {"app_key": "SANDBOXDYKEY", "app_secret": "SANDBOXDYSECRET",
                        "access_token": "SANDBOXDYTOKEN", "shop_id": "1000001"}

    def __init__(self, world: SandboxWorld, sender: MessageSender) -> None:
        self.world = world
        self.settings = world.config.platforms
        self._sender = sender
        self.shops: dict[str, DouyinShop] = {}
        self.cases: dict[int, DouyinAfterSale] = {}
        # 19-digit numbers that no earlier run used (a restarted demo talks to the same lanjie database).
        self._ids = run_numbers("73", 19)
        self._orders = run_numbers("69", 19)
        self._msg_ids = run_numbers("71", 19)
        self.register_shop(dict(self.test_credentials))

    # ---- shops -------------------------------------------------------------------------------

    def register_shop(self, fields: dict[str, Any]) -> DouyinShop:
        """Add a shop, or update the one with this app_key (only the fields given change)."""
        shop = self.shops.get(fields.get("app_key", ""))
        if shop is None:
            missing = [name for name in ("app_key", "app_secret", "access_token", "shop_id") if not fields.get(name)]
            if missing:
                raise WorldError(422, f"credentials: a new Douyin shop needs {', '.join(missing)}")
            shop = DouyinShop(fields["app_key"], fields["app_secret"], fields["access_token"], int(fields["shop_id"]))
            self.shops[shop.app_key] = shop
        for name in ("app_secret", "access_token", "push_url"):
            if fields.get(name):
                setattr(shop, name, fields[name])
        if fields.get("shop_id"):
            shop.shop_id = int(fields["shop_id"])
        if fields.get("assistant_strategy") is not None:
            shop.assistant_strategy = bool(fields["assistant_strategy"])
        return shop

    def shop(self, app_key: str) -> DouyinShop:
        shop = self.shops.get(app_key)
        if shop is None:
            raise WorldError(404, f"shop: no Douyin shop with app_key {app_key!r}")
        return shop

    # ---- after-sales -------------------------------------------------------------------------

    def case(self, aftersale_id: int) -> DouyinAfterSale:
        case = self.cases.get(aftersale_id)
        if case is None:
            raise WorldError(404, f"id: no Douyin after-sale {aftersale_id}")
        return case

    def create(self, *, shop: DouyinShop, kind: AfterSaleKind, order_id: str, refund_fen: int, paid_fen: int,
               waybill_no: str, company_code: str, reason: str, deadline_seconds: float | None,
               plan: BuyerPlan, verdict: Verdict | None) -> DouyinAfterSale:
        """A buyer's new after-sale, waiting for the merchant; pushes tag 200."""
        if order_id and not (order_id.isdigit() and len(order_id) <= 19):
            raise WorldError(422, "order_id: a Douyin order id is a number of up to 19 digits")
        parcel = self.world.parcels.get(waybill_no) if waybill_no else None
        if not company_code and parcel is not None:
            company_code = COMPANY_OF_COURIER.get(parcel.carrier_code, "")
        if waybill_no and company_code not in COMPANIES:
            raise WorldError(422, f"company_code: Douyin codes known here are {', '.join(COMPANIES)}")
        now = self.world.clock.now()
        case = DouyinAfterSale(
            aftersale_id=next(self._ids), shop=shop, kind=kind, p_id=int(order_id) if order_id else next(self._orders),
            s_id=next(self._orders), refund_fen=refund_fen, paid_fen=paid_fen, waybill_no=waybill_no,
            company_code=company_code, reason=reason, apply_time=unix_seconds(now), plan=plan,
            verdict=verdict or Verdict(self.settings.verdict),
        )
        self.cases[case.aftersale_id] = case
        self._bump(case)
        self._set_deadline(case, deadline_seconds if deadline_seconds is not None
                           else self.settings.douyin_deadline_seconds, announce=False)
        self._push(case, "200", apply_time=case.apply_time)
        buyers.schedule_plan(self.world, self, case.aftersale_id, plan, now)
        return case

    def _bump(self, case: DouyinAfterSale) -> None:
        """A new ``update_time``: the clock's Unix second, strictly after the previous one."""
        case.update_time = max(unix_seconds(self.world.clock.now()), case.update_time + 1)

    def note(self, case: DouyinAfterSale, actor: Actor, action: str, outcome: str = "ok", detail: str = "") -> None:
        case.history.append(Happening(self.world.clock.now(), actor, action, outcome, detail))

    # ---- messages ----------------------------------------------------------------------------

    def _push(self, case: DouyinAfterSale, tag: str, **extra: Any) -> None:
        data: dict[str, Any] = {
            "aftersale_id": case.aftersale_id, "aftersale_status": int(case.status),
            "aftersale_type": case.after_sale_type, "p_id": case.p_id, "s_id": case.s_id,
            "shop_id": case.shop.shop_id, "reason_code": 0, "refund_amount": case.refund_fen,
            "refund_post_amount": 0, "refund_voucher_num": 0, "update_time": case.update_time, **extra,
        }
        message = PlatformMessage(str(next(self._msg_ids)), tag, data, self.world.clock.now(), case.shop.push_url)
        case.messages.append(message)
        body = push_body(case.shop.app_key, case.shop.app_secret, tag, message.msg_id, data)
        self._sender.send(message, body, push_acked, case.order)

    def _arbitration_push(self, case: DouyinAfterSale, tag: str, **extra: Any) -> None:
        self._push(case, tag, arbitrate_id=case.arbitrate_id, arbitrate_status=int(case.arbitration), **extra)

    # ---- deadlines ---------------------------------------------------------------------------

    def _set_deadline(self, case: DouyinAfterSale, seconds: float | None, *, announce: bool = True) -> None:
        """A new deadline ``seconds`` from now (None: none); a scheduled older one no longer fires."""
        case.deadline_generation += 1
        if seconds is None:
            case.status_deadline = 0
            return
        at = self.world.clock.now() + timedelta(seconds=seconds)
        case.status_deadline = unix_seconds(at)
        generation = case.deadline_generation
        self.world.schedule(at, lambda due: self._deadline_due(case, generation))
        if announce:
            self._push(case, "209", status_deadline=case.status_deadline)

    def move_deadline(self, case: DouyinAfterSale, seconds: float) -> None:
        """The control API's deadline change (e.g. an extension), announced by tag 209."""
        if case.finished or case.status_deadline == 0:
            raise WorldError(409, f"id: after-sale {case.aftersale_id} has no running deadline")
        self._bump(case)
        self._set_deadline(case, seconds)
        self.note(case, Actor.platform, "deadline_changed", detail=str(case.status_deadline))

    def _deadline_due(self, case: DouyinAfterSale, generation: int) -> None:
        if generation != case.deadline_generation or case.finished:
            return
        if case.arbitration not in (Arbitration.none, Arbitration.ended):
            return
        if case.status is Status.waiting and case.kind is AfterSaleKind.return_refund:
            self.note(case, Actor.platform, "timeout_auto_agree_return")
            self.approve_return(case)
        elif case.status in (Status.waiting, Status.return_shipped):
            self.note(case, Actor.platform, "timeout_auto_agree")
            self.refund(case, Resolution.timeout_refund)

    # ---- transitions -------------------------------------------------------------------------

    def refund(self, case: DouyinAfterSale, resolution: Resolution) -> None:
        """Agree and pay: status 12, refund_status 3, tags 201 then 206."""
        now = self.world.clock.now()
        case.status, case.refund_status, case.resolution, case.refund_paid_at = Status.succeeded, 3, resolution, now
        if case.arbitration in (Arbitration.open, Arbitration.wants_evidence):
            case.arbitration = Arbitration.ended
        self._bump(case)
        self._set_deadline(case, None)
        self._push(case, "201", agree_time=unix_seconds(now))
        self._push(case, "206", success_time=unix_seconds(now))

    def reject(self, case: DouyinAfterSale) -> None:
        """The merchant's rejection: status 27, tag 204; the buyer may escalate later."""
        now = self.world.clock.now()
        case.status = Status.rejected
        self._bump(case)
        self._set_deadline(case, None)
        self._push(case, "204", refuse_time=unix_seconds(now))
        buyers.after_rejection(self.world, self, case.aftersale_id, case.plan, now)

    def approve_return(self, case: DouyinAfterSale) -> None:
        """The return is agreed: status 7, tag 202; the buyer ships it when told (control API)."""
        case.status = Status.awaiting_return
        self._bump(case)
        self._set_deadline(case, None)
        self._push(case, "202", agree_time=unix_seconds(self.world.clock.now()))

    def submit_evidence(self, case: DouyinAfterSale, evidence: list[str], comment: str) -> None:
        """Evidence: in arbitration it answers customer service (213 → 214), otherwise tag 218."""
        case.evidence.append({"evidence": evidence, "comment": comment, "at": self.world.clock.now().isoformat()})
        self._bump(case)
        if case.arbitration is Arbitration.wants_evidence:
            case.arbitration = Arbitration.open
            self._arbitration_push(case, "214")
        else:
            self._push(case, "218")

    # ---- buyers ------------------------------------------------------------------------------

    def awaiting_merchant(self, case_id: int) -> bool:
        case = self.cases[case_id]
        return case.status is Status.waiting and not case.merchant_answered

    def buyer_act(self, case_id: int, action: BuyerAction, *, forced: bool = False,
                  to: AfterSaleKind | None = None) -> bool:
        case = self.cases[case_id]
        target = to or case.plan.change_type_to
        applies = {
            BuyerAction.cancel: not case.finished,
            BuyerAction.change_type: (case.status is Status.waiting and case.arbitration is Arbitration.none
                                      and target is not case.kind),
            BuyerAction.escalate: (case.status in (Status.waiting, Status.rejected)
                                   and case.arbitration is Arbitration.none),
            BuyerAction.ship_return: case.status is Status.awaiting_return,
        }[action]
        if not applies:
            if not forced:
                self.note(case, Actor.buyer, action, "too_late", f"status {int(case.status)}")
            return False
        self.note(case, Actor.buyer, action)
        self._bump(case)
        now = self.world.clock.now()
        if action is BuyerAction.cancel:
            case.status, case.resolution = Status.closed, Resolution.buyer_cancelled
            self._set_deadline(case, None)
            self._push(case, "207", close_time=unix_seconds(now))
        elif action is BuyerAction.change_type:
            case.kind = target
            self._push(case, "208", modify_time=unix_seconds(now))
            self._set_deadline(case, self.settings.douyin_deadline_seconds)
        elif action is BuyerAction.ship_return:
            case.status, case.return_tracking_no = Status.return_shipped, f"RT{case.aftersale_id}"
            self._push(case, "203")
            self._set_deadline(case, self.settings.receipt_deadline_seconds)
        else:
            self._escalate(case)
        return True

    # ---- arbitration -------------------------------------------------------------------------

    def _escalate(self, case: DouyinAfterSale) -> None:
        now = self.world.clock.now()
        case.arbitration, case.arbitrate_id = Arbitration.open, f"ARB{case.aftersale_id}"
        case.arbitrate_create_time = unix_seconds(now)
        case.arbitration_generation += 1
        generation = case.arbitration_generation
        self._set_deadline(case, None)
        self._arbitration_push(case, "212")
        self.world.schedule(now + timedelta(seconds=self.settings.intervene_seconds),
                            lambda _at: self._intervene(case, generation))

    def _intervene(self, case: DouyinAfterSale, generation: int) -> None:
        if generation != case.arbitration_generation or case.arbitration is not Arbitration.open:
            return
        self.note(case, Actor.platform, "customer_service_intervened")
        self._bump(case)
        self._arbitration_push(case, "217")
        case.arbitration = Arbitration.wants_evidence
        self._arbitration_push(case, "213")
        at = self.world.clock.now() + timedelta(seconds=self.settings.verdict_seconds)
        self.world.schedule(at, lambda _at: self._decide(case, generation))

    def _decide(self, case: DouyinAfterSale, generation: int) -> None:
        if generation != case.arbitration_generation or case.finished:
            return
        for_buyer = case.verdict is Verdict.buyer or (case.verdict is Verdict.evidence and not case.evidence)
        self.note(case, Actor.platform, "verdict", detail="buyer" if for_buyer else "merchant")
        self._bump(case)
        case.arbitration = Arbitration.for_buyer if for_buyer else Arbitration.for_merchant
        case.arbitrate_conclusion = 1 if for_buyer else 2
        self._arbitration_push(case, "216", arbitrate_conclusion=case.arbitrate_conclusion)
        if for_buyer:
            self.refund(case, Resolution.verdict_refund)
        else:
            case.status, case.resolution = Status.closed, Resolution.verdict_merchant

    # ---- the world's parcels ----------------------------------------------------------------

    def logistics_state(self, case: DouyinAfterSale) -> tuple[int, int]:
        """(logistics_state, logistics_time) of the forward parcel from the sandbox world (0, 0 if unknown).

        Sandbox choice after the List filter's values: 2 signed by the buyer, 3 returning to the
        merchant (an intercept succeeded), 4 signed back by the merchant; 0 for a parcel on its way.
        """
        parcel: Parcel | None = self.world.parcels.get(case.waybill_no) if case.waybill_no else None
        if parcel is None:
            return 0, 0
        state = {TrackingStatus.delivered: 2, TrackingStatus.returning: 3,
                 TrackingStatus.returned: 4}.get(parcel.status, 0)
        return state, unix_seconds(parcel.last_scan.at)
