"""The sales-channel plugin contract.

A channel adapter is a class registered in the ``lanjie.channels`` entry-point group (Douyin,
Taobao/Tmall; the REST API and CSV import are channels without a platform to call). It is built with
the shop's account on that platform and an injected ``httpx.AsyncClient`` (the one I/O seam: tests
swap the transport); every HTTP exchange is appended to ``exchanges``, secrets redacted, for the
case timeline. An operation the platform lacks raises ``NotSupported``.

A platform's messages are hints: before lanjie acts on one it reads the case again with
``fetch_case`` (the platform's detail API), and every write carries the version it read
(Douyin ``update_time``, Taobao ``refund_version``) so the platform refuses it if the case moved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import httpx

from lanjie.carriers.base import Exchange
from lanjie.domain.states import ArbitrationStatus, CaseType, ChannelInterceptStatus, PlatformStatus

__all__ = ["ApproveItem", "Channel", "ChannelAccount", "ChannelCapability", "ChannelCase", "ChannelMessage",
           "ChannelParcel", "Exchange", "Inbound", "MessageKind"]


class ChannelCapability(StrEnum):
    parse_push = "parse_push"  # verify and read the platform's message push
    fetch_case = "fetch_case"  # read one after-sale (detail API)
    approve_refund = "approve_refund"  # agree the refund (Douyin operate 201, Taobao rp.refunds.agree)
    reject_refund = "reject_refund"  # refuse it with a reason code and evidence (Douyin operate 202)
    commit_intercept = "commit_intercept"  # tell the platform the seller intercepts (taobao.rp.refund.intercept)
    confirm_received = "confirm_received"  # the return is in the warehouse (Douyin returnGoodsToWareHouseSuccess)
    submit_evidence = "submit_evidence"  # evidence for an arbitration (Douyin afterSale/submitEvidence)


@dataclass(frozen=True)
class ChannelAccount:
    """A shop's credentials on one platform, plus the base URLs to call (configuration)."""

    channel: str  # plugin name, e.g. "douyin"
    credentials: Mapping[str, str]  # e.g. {"app_key":…, "app_secret":…, "access_token":…, "shop_id":…}
    endpoints: Mapping[str, str]  # e.g. {"api": "https://openapi-fxg.jinritemai.com"}


@dataclass(frozen=True)
class ChannelParcel:
    """A forward parcel of the order as the platform names it."""

    waybill_no: str
    company_code: str  # the platform's own logistics company code, e.g. Douyin "zhongtong"
    courier: str = ""  # lanjie's courier code for it ("zto"), "" when the adapter's table does not know it


@dataclass(frozen=True)
class ChannelCase:
    """The platform's after-sale (售后单 / 退款单) as its detail API shows it now."""

    ref: str  # the platform's after-sale id (Douyin aftersale_id, Taobao refund_id)
    order_id: str  # the platform's order id (Douyin p_id / order_id, Taobao tid)
    type: CaseType
    platform_type: str  # the platform's own type code, kept for display (Douyin "1", Taobao "REFUND")
    status: PlatformStatus
    platform_status: str  # the platform's own status code (Douyin "6", Taobao "WAIT_SELLER_AGREE")
    refund_fen: int  # what the buyer asks back
    version: str  # the optimistic lock every write must carry (Douyin update_time, Taobao refund_version)
    paid_fen: int | None = None  # what the buyer paid for what the request covers (None: not shown)
    deadline_at: datetime | None = None  # when the platform acts by itself (Douyin status_deadline)
    arbitration: ArbitrationStatus = ArbitrationStatus.none
    parcels: tuple[ChannelParcel, ...] = ()  # the forward parcels
    reason: str = ""
    # Taobao's interceptItemListResult / Douyin's "intercept succeeded" signals; None when the platform says nothing.
    intercept_status: ChannelInterceptStatus | None = None
    can_commit_intercept: bool = False  # Taobao lists APPLY_DELIVERY_INTERCEPT_V2 in allowed_operations
    refunded: bool = False  # the platform has paid the buyer (Douyin refund_status 3, Taobao SUCCESS)
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)  # the platform's fields, for the timeline


class MessageKind(StrEnum):
    """What a platform message says happened; lanjie re-reads the case before acting on any of them."""

    created = "created"  # Douyin 200, Taobao RefundCreated
    modified = "modified"  # the buyer changed the request (Douyin 208, Taobao RefundBuyerModifyAgreement)
    deadline_changed = "deadline_changed"  # Douyin 209
    refund_agreed = "refund_agreed"  # Douyin 201/202 (by the merchant or on timeout), Taobao RefundSellerAgreeAgreement
    refund_succeeded = "refund_succeeded"  # Douyin 206, Taobao RefundSuccess
    refused = "refused"  # Douyin 204/205, Taobao RefundSellerRefuseAgreement
    closed = "closed"  # buyer cancelled or system timeout (Douyin 207, Taobao RefundClosed)
    return_shipped = "return_shipped"  # the buyer sent goods back (Douyin 203, Taobao RefundBuyerReturnGoods)
    arbitration = "arbitration"  # Douyin 212–218, Taobao TaobaoInterApplied / TaobaoIntervened
    order_shipped = "order_shipped"  # Douyin trade 102: the seller shipped (carries the waybill)
    logistics_changed = "logistics_changed"  # Douyin trade 104
    address_changed = "address_changed"  # Douyin trade 105
    other = "other"  # a tag lanjie keeps but does not act on


@dataclass(frozen=True)
class ChannelMessage:
    """One message of a push, verified."""

    message_key: str  # de-duplication identity (Douyin msg_id, Taobao message id)
    topic: str  # the platform's own tag or topic ("200", "taobao_refund_RefundCreated")
    kind: MessageKind
    ref: str | None = None  # the after-sale it concerns, if any
    order_id: str | None = None
    version: str | None = None  # the case's version the message was written at, when it says
    arbitration: ArbitrationStatus | None = None  # for arbitration messages
    deadline_at: datetime | None = None  # for deadline messages
    waybill_no: str | None = None  # for trade shipping messages
    company_code: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Inbound:
    """A verified push: its messages, and the exact acknowledgement to answer with after commit."""

    messages: tuple[ChannelMessage, ...]
    ack_body: bytes
    ack_media_type: str = "application/json"


@dataclass(frozen=True)
class ApproveItem:
    """One refund to agree in a batch approval."""

    case: ChannelCase
    refund_no: str  # lanjie's refund number, fixed before the first call


class Channel(Protocol):
    """What every sales-channel adapter offers; missing operations raise NotSupported.

    Class attributes describe the plugin:

    - ``credential_names``: what an account must have; ``endpoint_names``: the base URLs it calls
      (each configurable, pointed at ``/sandbox/<name>`` by ``LANJIE_CHANNEL_SANDBOX_URL``);
    - ``approve_batch_limit`` / ``approve_batch_fen_limit``: most refunds and most fen per approval
      call (Douyin 1 — one failure fails its whole batch; Taobao 20 and 600,000 fen; Tmall 30 and
      1,000,000 fen); None where the platform sets no amount limit.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    capabilities: ClassVar[frozenset[ChannelCapability]]
    credential_names: ClassVar[tuple[str, ...]]
    endpoint_names: ClassVar[tuple[str, ...]]
    approve_batch_limit: ClassVar[int]
    approve_batch_fen_limit: ClassVar[int | None]
    exchanges: list[Exchange]

    def __init__(self, account: ChannelAccount, client: httpx.AsyncClient) -> None: ...

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str]) -> Inbound:
        """Verify (failing closed: SignatureInvalid) and parse a push; ``headers`` names lower-cased."""
        ...

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a push that failed verification, in the platform's format."""
        ...

    async def fetch_case(self, ref: str) -> ChannelCase:
        """The after-sale as the platform holds it now."""
        ...

    async def approve_refunds(self, items: Sequence[ApproveItem]) -> list[Exception | None]:
        """Agree refunds, split into calls within the batch limits; per item None or the error it met.

        Each item carries the version it was decided on; a changed case comes back as
        ChannelRejected(kind=stale). An item whose amount alone passes the amount limit is
        ChannelRejected(kind=needs_person), never sent.
        """
        ...

    async def reject_refund(self, case: ChannelCase, *, reason_code: str, reason: str,
                            evidence: Sequence[str] = ()) -> None:
        """Refuse the request with the platform's reason code, a text, and evidence URLs."""
        ...

    async def commit_intercept(self, case: ChannelCase) -> None:
        """Tell the platform the seller intercepts the parcel itself (Taobao: a 5-day commitment)."""
        ...

    async def confirm_received(self, case: ChannelCase, *, received_at: datetime,
                               waybill_no: str = "", company_code: str = "") -> None:
        """The returned goods passed inspection and are in the warehouse."""
        ...

    async def submit_evidence(self, case: ChannelCase, *, text: str, evidence: Sequence[str] = ()) -> None:
        """Evidence for an arbitration the platform is running."""
        ...
