"""The carrier plugin contract.

A carrier adapter is a class registered in the ``lanjie.carriers`` entry-point group. It is built
with the shop's account for that carrier and an injected ``httpx.AsyncClient`` (the one I/O seam:
tests swap the transport). A capability the carrier lacks raises ``NotSupported``.

Every HTTP exchange an adapter makes is appended to ``exchanges`` (secrets redacted) so the
service layer can store it on the case timeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

import httpx

from lanjie.domain.states import ClaimStatus, ClaimType, InterceptReason, InterceptType, TrackingStatus


class Capability(StrEnum):
    precheck = "precheck"
    intercept = "intercept"
    query_intercept = "query_intercept"
    cancel_intercept = "cancel_intercept"
    subscribe = "subscribe"
    parse_push = "parse_push"
    query_tracking = "query_tracking"
    file_claim = "file_claim"
    claim_status = "claim_status"


@dataclass(frozen=True)
class CarrierAccount:
    """A shop's credentials for one carrier, plus the endpoints to use (configuration)."""

    carrier: str  # plugin name, e.g. "kuaidi100"
    credentials: Mapping[str, str]  # e.g. {"key":…, "customer":…, "secret":…, "salt":…}
    endpoints: Mapping[str, str]  # e.g. {"api": "https://api.kuaidi100.com", "poll": "https://poll.kuaidi100.com"}
    # Awaited before every request: the account's rate limit (lanjie.service.ratelimit), None in unit tests.
    limiter: Callable[[], Awaitable[None]] | None = field(default=None, compare=False)


class Payer(StrEnum):
    """Who pays an intercept fee (Kuaidi100 interceptPayType, SF payMode, UPS shipper-paid)."""

    sender = "sender"  # the shop (寄付)
    recipient = "recipient"  # the buyer (到付)
    third_party = "third_party"
    monthly_account = "monthly_account"  # the shop's monthly account (月结)


@dataclass(frozen=True)
class Address:
    name: str
    phone: str
    address: str


@dataclass(frozen=True)
class InterceptRequest:
    request_id: str  # our stable id for this attempt (lanjie's intercept id)
    carrier_code: str  # the underlying courier, lower case, e.g. "zto"
    waybill_no: str
    intercept_type: InterceptType
    callback_url: str
    order_id: str = ""
    reason: str = ""
    address: Address | None = None  # required for redirect
    phone_tail: str = ""  # last 4 digits of a phone, some carriers need it
    payer: Payer = Payer.sender  # who pays the intercept fee
    return_address: Address | None = None  # where a return goes (the sender's): SF's 退回 needs newDestAddress


@dataclass(frozen=True)
class Precheck:
    """What the carrier says before an intercept is sent: can it be done, what it costs, who pays.

    ``eligible`` is None when the carrier has no eligibility check (the gates then judge from tracking);
    ``fee_minor`` is in the currency's minor unit (fen, cents) and None when the carrier publishes no fee.
    """

    eligible: bool | None
    reason: InterceptReason | None = None
    fee_minor: int | None = None
    currency: str = "CNY"
    payer: Payer | None = None
    fee_when: str = ""  # e.g. "only if completed" (UPS), "per request" (SF)
    message: str = ""
    types: frozenset[InterceptType] = frozenset()  # the intercept types the carrier offers this parcel


@dataclass(frozen=True)
class CancelAck:
    """The carrier's answer to cancelling an intercept before it completed."""

    accepted: bool
    message: str = ""


@dataclass(frozen=True)
class InterceptAck:
    """The synchronous answer to an intercept request."""

    accepted: bool
    task_id: str | None = None
    reason: InterceptReason | None = None  # set when not accepted
    message: str = ""
    # The carrier said the waybill is already being intercepted (for instance our own earlier
    # attempt whose answer was lost): treated as accepted by the service layer.
    duplicate: bool = False
    fee_minor: int | None = None  # what the carrier says it will charge (SF ``amount``), minor units
    currency: str = "CNY"


class InterceptOutcome(StrEnum):
    pending = "pending"  # the carrier says it holds the intercept, no result yet
    succeeded = "succeeded"  # parcel turned back
    failed = "failed"
    not_found = "not_found"  # the carrier has no intercept for this waybill
    # The answer cannot tell an intercept the carrier holds from none at all: a "query" that only reads
    # the trace (Kuaidi100, SF) of a parcel still moving forward. Never read as "the carrier holds it".
    indeterminate = "indeterminate"


@dataclass(frozen=True)
class InterceptState:
    """What the carrier says about an intercept when queried."""

    outcome: InterceptOutcome
    task_id: str | None = None
    reason: InterceptReason | None = None
    message: str = ""


@dataclass(frozen=True)
class TrackingEvent:
    at: datetime  # aware UTC
    status: TrackingStatus
    code: str  # the carrier's own code, e.g. Kuaidi100 state "0" / sub-state "1002"
    description: str
    location: str = ""


@dataclass(frozen=True)
class TrackingSnapshot:
    carrier_code: str
    waybill_no: str
    status: TrackingStatus  # of the newest event
    events: tuple[TrackingEvent, ...]  # newest first
    subscription: str = ""  # "polling" | "shutdown" | "abort" | "" when not a push
    # True when the carrier sends only new events (SF route push, ZTO, J&T): lanjie merges them into
    # the history it holds instead of replacing it (Kuaidi100 and Kdniao send the full history).
    incremental: bool = False
    corrected_carrier_code: str | None = None  # Kuaidi100 autoCheck: the carrier code was wrong


@dataclass(frozen=True)
class InterceptResult:
    """An intercept outcome pushed by the carrier (must be confirmed by a query before money moves)."""

    waybill_no: str
    task_id: str | None
    outcome: InterceptOutcome
    reason: InterceptReason | None = None
    message: str = ""


@dataclass(frozen=True)
class ClaimAttachment:
    """A file sent with a claim: a photo of the damage, the order as proof of value, a statement."""

    name: str
    media_type: str  # image/jpeg, application/pdf, …
    content: bytes
    kind: str = "document"  # photo | proof_of_value | document


@dataclass(frozen=True)
class ClaimRequest:
    """A claim (理赔) or work order (工单) for a lost, damaged or short parcel."""

    request_id: str  # lanjie's claim id: stable, so a repeated filing can be recognised
    carrier_code: str  # the courier, lower case, e.g. "yunda"
    waybill_no: str
    type: ClaimType
    amount_minor: int  # what is asked, minor units
    goods_value_minor: int  # the goods' value (Kuaidi100's modityValue)
    description: str
    currency: str = "CNY"
    callback_url: str = ""  # where the carrier reports progress, if it does
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    attachments: tuple[ClaimAttachment, ...] = ()


@dataclass(frozen=True)
class ClaimAck:
    """The carrier's answer to a filing."""

    accepted: bool
    claim_ref: str | None = None  # the carrier's claim or work-order number
    message: str = ""


@dataclass(frozen=True)
class ClaimState:
    """Where the carrier's review of a claim stands (queried, or pushed)."""

    claim_ref: str
    status: ClaimStatus  # in_review, waiting_on_documents, approved, approved_partial, rejected, paid, closed
    approved_minor: int | None = None
    message: str = ""
    documents_requested: tuple[str, ...] = ()
    waybill_no: str = ""


@dataclass(frozen=True)
class Push:
    """A parsed, verified inbound push, plus the exact acknowledgement to answer with."""

    message_key: str  # de-duplication identity of this message
    tracking: TrackingSnapshot | None = None
    trackings: tuple[TrackingSnapshot, ...] = ()  # further parcels of a multi-parcel push (Kdniao: up to 10)
    intercept: InterceptResult | None = None
    claim: ClaimState | None = None  # a claim's progress (Kuaidi100 work-order callback)
    ack_body: bytes = b""
    ack_media_type: str = "application/json"


@dataclass(frozen=True)
class Subscription:
    carrier_code: str
    waybill_no: str
    callback_url: str
    phone_tail: str = ""


@dataclass
class Exchange:
    """One request/response with a carrier, secrets redacted, for audit and the case timeline."""

    operation: str
    method: str
    url: str
    request_body: str
    status_code: int | None
    response_body: str
    duration_ms: float
    error: str = ""


class Carrier(Protocol):
    """What every carrier adapter offers; missing capabilities raise NotSupported.

    Class attributes describe the plugin for ``lanjie carriers`` and docs/carriers.md:

    - ``couriers``: courier codes it serves (``{"sf"}``), or None for an aggregator (any code);
    - ``intercept_types``: the intercept types it can send (empty when it cannot intercept itself);
    - ``intercept_via``: the plugin that intercepts for it when the carrier has no public intercept
      API (``"kuaidi100"``), else None;
    - ``credential_names``: the credentials an account must have; ``endpoint_names``: the base URLs
      it calls (each configurable, and pointed at ``/sandbox/<name>`` by ``LANJIE_CARRIER_SANDBOX_URL``);
    - ``rate_limit_per_second``: requests per second per account lanjie allows itself;
    - optional ``claims_via``: the plugin that files claims for it (Kuaidi100's work-order API files
      them for YTO, Yunda, J&T, STO and Deppon), and ``claim_couriers``: the couriers a claim-filing
      plugin files for (None: every courier it serves).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    couriers: ClassVar[frozenset[str] | None]
    intercept_types: ClassVar[frozenset[InterceptType]]
    intercept_via: ClassVar[str | None]
    credential_names: ClassVar[tuple[str, ...]]
    endpoint_names: ClassVar[tuple[str, ...]]
    rate_limit_per_second: ClassVar[float]
    exchanges: list[Exchange]

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient) -> None: ...

    async def precheck(self, request: InterceptRequest) -> Precheck: ...

    async def intercept(self, request: InterceptRequest) -> InterceptAck: ...

    async def query_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None,
                              phone_tail: str = "") -> InterceptState: ...

    async def cancel_intercept(self, carrier_code: str, waybill_no: str, task_id: str | None) -> CancelAck: ...

    async def subscribe(self, subscription: Subscription) -> None: ...

    async def query_tracking(self, carrier_code: str, waybill_no: str,
                             phone_tail: str = "") -> TrackingSnapshot: ...

    async def file_claim(self, request: ClaimRequest) -> ClaimAck:
        """File a claim or work order online (``file_claim`` capability); NotSupported elsewhere."""
        ...

    async def claim_status(self, carrier_code: str, waybill_no: str, claim_ref: str) -> ClaimState:
        """Where the carrier's review stands (``claim_status`` capability)."""
        ...

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Push:
        """Verify (failing closed) and parse a push; ``headers`` are the request's, names lower-cased."""
        ...

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a push that failed verification, in the carrier's format."""
        ...


@dataclass
class CarrierInfo:
    """How a plugin describes itself (for `lanjie carriers` and the capability matrix)."""

    name: str
    title: str = ""
    capabilities: frozenset[Capability] = field(default_factory=frozenset)
    couriers: frozenset[str] | None = None
    intercept_types: frozenset[InterceptType] = field(default_factory=frozenset)
    intercept_via: str | None = None
    credential_names: tuple[str, ...] = ()
    rate_limit_per_second: float = 0.0
    optional_credential_names: tuple[str, ...] = ()
