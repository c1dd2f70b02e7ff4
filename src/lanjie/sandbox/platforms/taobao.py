"""Taobao / Tmall as the sandbox plays it: shops, refunds, the 5-day intercept window, buyers, disputes.

The TOP methods lanjie calls are in ``taobao_api``; this module holds the refunds they read and the
transitions they (and the clock, the buyers and the world's parcels) cause. Statuses and fields
follow ``taobao.refund.get`` (reference sales-platforms.md §2.1); money is kept in fen and written in
yuan on the wire.

**Sandbox choices** (Taobao does not publish these; mirrored in docs/sandbox.md):

* an agreed refund-only refund is paid at once: ``RefundSellerAgreeAgreement`` then ``RefundSuccess``,
  whether the seller agreed or the deadline passed; a return-and-refund first gets the agreement
  (``WAIT_BUYER_RETURN_GOODS``), then ``RefundBuyerReturnGoods`` when the buyer ships, then
  ``RefundSuccess`` when the seller (or the deadline) confirms the goods;
* the seller's intercept commitment sends no message: the new deadline and the intercept state show
  in ``taobao.refund.get`` (``refund_remind_timeout``, ``attribute``); the state becomes
  ``INTERCEPT_SUCCESS`` when the world's parcel with that waybill turns back and ``INTERCEPT_FAILED``
  when it is delivered, each bumping ``refund_version``;
* ``refund_remind_timeout.remind_type`` is 1 while the seller must answer, 2 during the commitment;
* ``refund_phase`` is ``onsale`` (none of these trades is finished); ``cs_status`` 1 none, 2 the buyer
  asked Taobao to intervene (``TaobaoInterApplied``), 3 intervened (``TaobaoIntervened``), 8 / 9 the
  verdict for the buyer (refund, ``RefundSuccess``) / the seller (``RefundClosed``);
* a buyer who changes a refund-only request to return-and-refund sends ``RefundBuyerModifyAgreement``
  whose content also carries the new ``dispute_type`` (a lanjie addition) and the deadline restarts.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from lanjie.domain.states import TrackingStatus
from lanjie.sandbox.platforms import buyers
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
    unix_millis,
    yuan,
)
from lanjie.sandbox.platforms.push import MessageSender
from lanjie.sandbox.platforms.taobao_wire import relay_acked, relay_body
from lanjie.sandbox.wirefmt import dumps, wire_time
from lanjie.sandbox.world import WorldError

if TYPE_CHECKING:
    from lanjie.sandbox.model import Parcel
    from lanjie.sandbox.world import SandboxWorld

TOPIC = "taobao_refund_"
#: Batch limits of taobao.rp.refunds.agree: (refunds per call, fen per call).
BATCH_LIMITS = {"taobao": (20, 600_000), "tmall": (30, 1_000_000)}
SMS_ABOVE_FEN = 200_000  # sandbox choice: a single refund above 2,000 yuan needs the SMS code


class RefundStatus(StrEnum):
    WAIT_SELLER_AGREE = "WAIT_SELLER_AGREE"
    WAIT_BUYER_RETURN_GOODS = "WAIT_BUYER_RETURN_GOODS"
    WAIT_SELLER_CONFIRM_GOODS = "WAIT_SELLER_CONFIRM_GOODS"
    SELLER_REFUSE_BUYER = "SELLER_REFUSE_BUYER"
    CLOSED = "CLOSED"
    SUCCESS = "SUCCESS"


class Intercept(StrEnum):
    """``logisticInterceptEnum`` in the refund's attribute string."""

    INTERCEPT_APPLY = "INTERCEPT_APPLY"
    INTERCEPT_SUCCESS = "INTERCEPT_SUCCESS"
    INTERCEPT_FAILED = "INTERCEPT_FAILED"


@dataclass
class TaobaoShop:
    app_key: str
    app_secret: str
    session: str
    seller_nick: str
    platform: str  # "taobao" or "tmall": picks the batch limits
    user_id: int
    push_url: str | None = None


@dataclass
class TaobaoRefund:
    refund_id: int
    shop: TaobaoShop
    kind: AfterSaleKind
    tid: int
    oid: int
    refund_fen: int
    paid_fen: int
    waybill_no: str
    reason: str
    created_at: datetime
    plan: BuyerPlan
    verdict: Verdict
    status: RefundStatus = RefundStatus.WAIT_SELLER_AGREE
    refund_version: int = 0
    modified_at: datetime | None = None
    deadline_at: datetime | None = None
    intercept: Intercept | None = None
    intercept_at: datetime | None = None
    cs_status: int = 1
    return_sid: str = ""
    resolution: Resolution | None = None
    refund_paid_at: datetime | None = None
    merchant_answered: bool = False
    history: list[Happening] = field(default_factory=list)
    messages: list[PlatformMessage] = field(default_factory=list)
    order: asyncio.Lock = field(default_factory=asyncio.Lock)
    deadline_generation: int = 0
    dispute_generation: int = 0

    @property
    def dispute_type(self) -> str:
        return "REFUND_AND_RETURN" if self.kind is AfterSaleKind.return_refund else "REFUND"

    @property
    def good_status(self) -> str:
        if self.return_sid:
            return "BUYER_RETURNED_GOODS"
        return "BUYER_RECEIVED" if self.kind is AfterSaleKind.return_refund else "BUYER_NOT_RECEIVED"

    @property
    def finished(self) -> bool:
        return self.status in (RefundStatus.SUCCESS, RefundStatus.CLOSED)

    def attribute(self) -> str:
        """The ``;k:v;`` attribute string; JSON inside it has its colons written ``#3B``."""
        parts = ["bizCode:taobao.general.refund"]
        if self.intercept is not None:
            items = [{"subBizOrderId": str(self.oid), "logisticInterceptEnum": self.intercept,
                      "autoInterceptAgree": 0}]
            parts.append("interceptItemListResult:" + dumps(items).replace(":", "#3B"))
        return ";" + ";".join(parts) + ";"


class TaobaoPlatform:
    """The Taobao side of the simulator."""

    name = "taobao"
    test_credentials = {"app_key": "SANDBOXTBKEY", "app_secret": "SANDBOXTBSECRET", "session": "SANDBOXTBSESSION",
                        "seller_nick": "lanjie-sandbox", "platform": "taobao"}

    def __init__(self, world: SandboxWorld, sender: MessageSender) -> None:
        self.world = world
        self.settings = world.config.platforms
        self._sender = sender
        self.shops: dict[str, TaobaoShop] = {}
        self.cases: dict[int, TaobaoRefund] = {}
        # Numbers that no earlier run used (a restarted demo talks to the same lanjie database); a message's
        # id is its refund's id and a serial, so it is new too.
        self._ids = run_numbers("2", 18)
        self._orders = run_numbers("39", 19)
        self._users = itertools.count(2200000000001)
        self._msg_ids = itertools.count(1)
        self.register_shop(dict(self.test_credentials))

    # ---- shops -------------------------------------------------------------------------------

    def register_shop(self, fields: dict[str, Any]) -> TaobaoShop:
        """Add a shop, or update the one with this app_key (only the fields given change)."""
        if fields.get("platform") not in (None, "taobao", "tmall"):
            raise WorldError(422, "platform: taobao or tmall")
        shop = self.shops.get(fields.get("app_key", ""))
        if shop is None:
            missing = [name for name in ("app_key", "app_secret", "session", "seller_nick") if not fields.get(name)]
            if missing:
                raise WorldError(422, f"credentials: a new Taobao shop needs {', '.join(missing)}")
            shop = TaobaoShop(fields["app_key"], fields["app_secret"], fields["session"], fields["seller_nick"],
                              fields.get("platform") or "taobao", next(self._users))
            self.shops[shop.app_key] = shop
        for name in ("app_secret", "session", "seller_nick", "platform", "push_url"):
            if fields.get(name):
                setattr(shop, name, fields[name])
        return shop

    def shop(self, app_key: str) -> TaobaoShop:
        shop = self.shops.get(app_key)
        if shop is None:
            raise WorldError(404, f"shop: no Taobao shop with app_key {app_key!r}")
        return shop

    # ---- refunds -----------------------------------------------------------------------------

    def case(self, refund_id: int) -> TaobaoRefund:
        case = self.cases.get(refund_id)
        if case is None:
            raise WorldError(404, f"id: no Taobao refund {refund_id}")
        return case

    def create(self, *, shop: TaobaoShop, kind: AfterSaleKind, order_id: str, refund_fen: int, paid_fen: int,
               waybill_no: str, reason: str, deadline_seconds: float | None, plan: BuyerPlan,
               verdict: Verdict | None) -> TaobaoRefund:
        """A buyer's new refund, waiting for the seller; pushes ``taobao_refund_RefundCreated``."""
        if order_id and not (order_id.isdigit() and len(order_id) <= 19):
            raise WorldError(422, "order_id: a Taobao trade id (tid) is a number of up to 19 digits")
        now = self.world.clock.now()
        case = TaobaoRefund(
            refund_id=next(self._ids), shop=shop, kind=kind, tid=int(order_id) if order_id else next(self._orders),
            oid=next(self._orders), refund_fen=refund_fen, paid_fen=paid_fen, waybill_no=waybill_no, reason=reason,
            created_at=now, plan=plan, verdict=verdict or Verdict(self.settings.verdict),
        )
        self.cases[case.refund_id] = case
        self._bump(case)
        self._set_deadline(case, deadline_seconds if deadline_seconds is not None
                           else self.settings.taobao_deadline_seconds)
        self._push(case, "RefundCreated")
        buyers.schedule_plan(self.world, self, case.refund_id, plan, now)
        return case

    def _bump(self, case: TaobaoRefund) -> None:
        """A new ``refund_version`` (milliseconds, strictly increasing) and ``modified``."""
        now = self.world.clock.now()
        case.refund_version = max(unix_millis(now), case.refund_version + 1)
        case.modified_at = now

    def note(self, case: TaobaoRefund, actor: Actor, action: str, outcome: str = "ok", detail: str = "") -> None:
        case.history.append(Happening(self.world.clock.now(), actor, action, outcome, detail))

    def _push(self, case: TaobaoRefund, topic: str, **extra: Any) -> None:
        now = self.world.clock.now()
        content: dict[str, Any] = {
            "refund_id": case.refund_id, "tid": case.tid, "oid": case.oid, "refund_fee": yuan(case.refund_fen),
            "refund_phase": "onsale", "refund_version": case.refund_version,
            "modified": wire_time(case.modified_at or now), "bill_type": "return_bill"
            if case.kind is AfterSaleKind.return_refund else "refund_bill",
            "buyer_nick": "sandbox_buyer", "seller_nick": case.shop.seller_nick, **extra,
        }
        message = PlatformMessage(f"{case.refund_id}{next(self._msg_ids):06d}", TOPIC + topic, content, now,
                                  case.shop.push_url)
        case.messages.append(message)
        body = relay_body(case.shop.app_key, case.shop.app_secret, {
            "id": message.msg_id, "topic": message.topic, "pub_time": wire_time(now),
            "user_id": case.shop.user_id, "content": dumps(content),
        })
        self._sender.send(message, body, relay_acked, case.order)

    # ---- deadlines ---------------------------------------------------------------------------

    def _set_deadline(self, case: TaobaoRefund, seconds: float | None) -> None:
        case.deadline_generation += 1
        if seconds is None:
            case.deadline_at = None
            return
        case.deadline_at = at = self.world.clock.now() + timedelta(seconds=seconds)
        generation = case.deadline_generation
        self.world.schedule(at, lambda _at: self._deadline_due(case, generation))

    def move_deadline(self, case: TaobaoRefund, seconds: float) -> None:
        if case.finished or case.deadline_at is None:
            raise WorldError(409, f"id: refund {case.refund_id} has no running deadline")
        self._bump(case)
        self._set_deadline(case, seconds)
        self.note(case, Actor.platform, "deadline_changed", detail=wire_time(case.deadline_at or case.created_at))

    def _deadline_due(self, case: TaobaoRefund, generation: int) -> None:
        if generation != case.deadline_generation or case.finished or case.cs_status in (2, 3):
            return
        if case.status is RefundStatus.WAIT_SELLER_AGREE and case.kind is AfterSaleKind.return_refund:
            self.note(case, Actor.platform, "timeout_auto_agree_return")
            self._agree_return(case)
        elif case.status in (RefundStatus.WAIT_SELLER_AGREE, RefundStatus.WAIT_SELLER_CONFIRM_GOODS):
            self.note(case, Actor.platform, "timeout_auto_agree",
                      detail="intercept window ended" if case.intercept is not None else "")
            self.pay(case, Resolution.timeout_refund)

    # ---- transitions -------------------------------------------------------------------------

    def intercept_allowed(self, case: TaobaoRefund) -> bool:
        """Whether ``APPLY_DELIVERY_INTERCEPT_V2`` is offered: a shipped refund-only refund, unanswered."""
        return (case.kind is AfterSaleKind.refund_only_shipped and case.good_status == "BUYER_NOT_RECEIVED"
                and case.status is RefundStatus.WAIT_SELLER_AGREE and case.intercept is None
                and case.cs_status == 1)

    def commit_intercept(self, case: TaobaoRefund) -> None:
        """The seller commits to intercept and refund within the window (rp.refund.intercept)."""
        case.intercept, case.intercept_at = Intercept.INTERCEPT_APPLY, self.world.clock.now()
        case.merchant_answered = True
        self._bump(case)
        self._set_deadline(case, self.settings.intercept_window_seconds)
        parcel = self.world.parcels.get(case.waybill_no)
        if parcel is not None:
            self.on_tracking(parcel)

    def on_tracking(self, parcel: Parcel) -> None:
        """A parcel moved: the refunds whose intercept watches it learn whether it turned back."""
        outcome = (Intercept.INTERCEPT_SUCCESS if parcel.status in (TrackingStatus.returning, TrackingStatus.returned)
                   else Intercept.INTERCEPT_FAILED if parcel.status is TrackingStatus.delivered else None)
        if outcome is None:
            return
        for case in self.cases.values():
            if case.waybill_no == parcel.waybill_no and case.intercept is Intercept.INTERCEPT_APPLY:
                case.intercept = outcome
                self._bump(case)
                self.note(case, Actor.platform, "intercept_result", detail=outcome)

    def pay(self, case: TaobaoRefund, resolution: Resolution) -> None:
        """The refund is paid: SUCCESS; a refund-only one also announces the agreement first."""
        agreement_due = case.status is RefundStatus.WAIT_SELLER_AGREE
        case.status, case.resolution = RefundStatus.SUCCESS, resolution
        case.refund_paid_at = self.world.clock.now()
        self._bump(case)
        self._set_deadline(case, None)
        if agreement_due:
            self._push(case, "RefundSellerAgreeAgreement")
        self._push(case, "RefundSuccess")

    def _agree_return(self, case: TaobaoRefund) -> None:
        case.status = RefundStatus.WAIT_BUYER_RETURN_GOODS
        self._bump(case)
        self._set_deadline(case, None)
        self._push(case, "RefundSellerAgreeAgreement")

    def refuse(self, case: TaobaoRefund) -> None:
        """The seller refuses: SELLER_REFUSE_BUYER; the buyer may escalate later."""
        case.status, case.merchant_answered = RefundStatus.SELLER_REFUSE_BUYER, True
        self._bump(case)
        self._set_deadline(case, None)
        self._push(case, "RefundSellerRefuseAgreement")
        buyers.after_rejection(self.world, self, case.refund_id, case.plan, self.world.clock.now())

    # ---- buyers ------------------------------------------------------------------------------

    def awaiting_merchant(self, case_id: int) -> bool:
        case = self.cases[case_id]
        return case.status is RefundStatus.WAIT_SELLER_AGREE and not case.merchant_answered

    def buyer_act(self, case_id: int, action: BuyerAction, *, forced: bool = False,
                  to: AfterSaleKind | None = None) -> bool:
        case = self.cases[case_id]
        target = to or case.plan.change_type_to
        waiting = case.status is RefundStatus.WAIT_SELLER_AGREE
        applies = {
            BuyerAction.cancel: not case.finished,
            BuyerAction.change_type: waiting and case.cs_status == 1 and target is not case.kind,
            BuyerAction.escalate: (waiting or case.status is RefundStatus.SELLER_REFUSE_BUYER) and case.cs_status == 1,
            BuyerAction.ship_return: case.status is RefundStatus.WAIT_BUYER_RETURN_GOODS,
        }[action]
        if not applies:
            if not forced:
                self.note(case, Actor.buyer, action, "too_late", case.status)
            return False
        self.note(case, Actor.buyer, action)
        self._bump(case)
        if action is BuyerAction.cancel:
            case.status, case.resolution = RefundStatus.CLOSED, Resolution.buyer_cancelled
            self._set_deadline(case, None)
            self._push(case, "RefundClosed")
        elif action is BuyerAction.change_type:
            case.kind = target
            self._set_deadline(case, self.settings.taobao_deadline_seconds)
            self._push(case, "RefundBuyerModifyAgreement", dispute_type=case.dispute_type)
        elif action is BuyerAction.ship_return:
            case.status, case.return_sid = RefundStatus.WAIT_SELLER_CONFIRM_GOODS, f"RT{case.refund_id}"
            self._set_deadline(case, self.settings.receipt_deadline_seconds)
            self._push(case, "RefundBuyerReturnGoods")
        else:
            self._escalate(case)
        return True

    # ---- disputes ----------------------------------------------------------------------------

    def _escalate(self, case: TaobaoRefund) -> None:
        case.cs_status = 2
        case.dispute_generation += 1
        generation = case.dispute_generation
        self._push(case, "TaobaoInterApplied")
        at = self.world.clock.now() + timedelta(seconds=self.settings.intervene_seconds)
        self.world.schedule(at, lambda _at: self._intervene(case, generation))

    def _intervene(self, case: TaobaoRefund, generation: int) -> None:
        if generation != case.dispute_generation or case.finished or case.cs_status != 2:
            return
        self.note(case, Actor.platform, "customer_service_intervened")
        case.cs_status = 3
        self._bump(case)
        self._push(case, "TaobaoIntervened")
        at = self.world.clock.now() + timedelta(seconds=self.settings.verdict_seconds)
        self.world.schedule(at, lambda _at: self._decide(case, generation))

    def _decide(self, case: TaobaoRefund, generation: int) -> None:
        if generation != case.dispute_generation or case.finished:
            return
        # Taobao's dispute has no evidence API in the sandbox: "evidence" sides with the seller who refused.
        for_buyer = case.verdict is Verdict.buyer or (
            case.verdict is Verdict.evidence and case.status is not RefundStatus.SELLER_REFUSE_BUYER)
        self.note(case, Actor.platform, "verdict", detail="buyer" if for_buyer else "merchant")
        case.cs_status = 8 if for_buyer else 9
        if for_buyer:
            self.pay(case, Resolution.verdict_refund)
        else:
            case.status, case.resolution = RefundStatus.CLOSED, Resolution.verdict_merchant
            self._bump(case)
            self._push(case, "RefundClosed")
