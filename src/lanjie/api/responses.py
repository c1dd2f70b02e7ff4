"""Response shapes, for the OpenAPI description (the routes build the JSON in ``views``; tests check
that every answer validates against these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from lanjie.domain.states import (
    ArbitrationStatus,
    CaseStatus,
    CaseType,
    ChannelInterceptStatus,
    ClaimStatus,
    ClaimType,
    ClawbackStatus,
    Fallback,
    Inspection,
    InterceptReason,
    InterceptStatus,
    InterceptType,
    PayoutRule,
    PlatformStatus,
    RefundStatus,
    Resolution,
    ReturnStatus,
    SettlementPolicy,
    TrackingStatus,
)


class Out(BaseModel):
    model_config = {"extra": "forbid"}


class PartyOut(Out):
    name: str
    phone: str = Field(description="masked: only the last four digits are shown")
    address: str


class ItemOut(Out):
    sku: str
    name: str
    qty: int
    price_fen: int


class TrackingEventOut(Out):
    at: datetime
    status: TrackingStatus
    code: str = Field(description="the carrier's own code, e.g. Kuaidi100 sub-state 1002")
    description: str
    location: str


class ShipmentOut(Out):
    id: str
    carrier: str = Field(examples=["kuaidi100:zto"])
    waybill_no: str
    order_id: str
    items: list[ItemOut]
    value_fen: int
    freight_fen: int
    insured_fen: int | None
    sender: PartyOut
    recipient: PartyOut
    tracking_status: TrackingStatus
    tracking_at: datetime | None = Field(description="time of the newest carrier event applied")
    tracking_events: list[TrackingEventOut] = Field(description="newest first")
    subscription: str = Field(description="Kuaidi100 subscription state: polling, shutdown or abort")
    created_at: datetime


class InterceptOut(Out):
    id: str
    aftersale_id: str
    shipment_id: str
    waybill_no: str | None
    type: InterceptType
    status: InterceptStatus
    reason: InterceptReason | None
    message: str
    task_id: str | None = Field(description="the carrier's task id once it acknowledged")
    attempts: int
    address: PartyOut | None
    created_at: datetime
    answered_at: datetime | None
    outcome_at: datetime | None


class RefundOut(Out):
    id: str
    refund_no: str = Field(description="fixed before the first downstream call, reused on every retry")
    amount_fen: int
    status: RefundStatus
    clawback: ClawbackStatus | None = Field(None, description="open when the refunded parcel was delivered after "
                                                                "all (a missed intercept); recovered or written_off")
    evidence: dict[str, Any] = Field(description="what the settlement decision saw: policy, trigger, intercepts, "
                                                 "the carrier query that confirmed it")
    created_at: datetime


class EventOut(Out):
    id: int
    type: str = Field(examples=["intercept.submitted"])
    subject_type: str
    subject_id: str
    aftersale_id: str | None
    payload: dict[str, Any]
    at: datetime


class ExchangeOut(Out):
    id: int
    carrier: str
    operation: str
    method: str
    url: str
    request_body: str = Field(description="secrets redacted")
    status_code: int | None
    response_body: str
    duration_ms: float
    error: str
    at: datetime


class CaseSummaryOut(Out):
    id: str
    order_id: str
    type: CaseType
    status: CaseStatus
    refund_fen: int
    reason: str
    channel: str
    channel_ref: str | None
    resolution: Resolution | None
    settlement_policy: SettlementPolicy
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime | None = Field(None, description="the sales platform's deadline (status_deadline): it "
                                                           "acts by itself after it; lanjie acts or alerts before")
    attention: str = Field("", description="why a person is needed (refused, missed, deadline, clawback, "
                                           "parcel_unknown, refund_failed …); empty when not")
    arbitration: ArbitrationStatus = ArbitrationStatus.none
    platform_status: PlatformStatus | None = Field(None, description="where the platform's own after-sale stands")
    platform_intercept: ChannelInterceptStatus | None = Field(
        None, description="what the platform shows of the interception (Taobao interceptItemListResult)")
    channel_version: str | None = Field(None, description="the platform's optimistic lock (Douyin update_time, "
                                                          "Taobao refund_version) every write carries")
    paid_fen: int | None = Field(None, description="what the buyer paid for what the request covers, when known")
    fallback: Fallback = Field(Fallback.needs_person, description="what a refused or missed intercept leads to")


class DecisionOut(Out):
    id: int
    rule: str | None
    verdict: str = Field(description="intercept, wait (for the carrier's service hours) or skip")
    reason: str = Field(description="the first required condition that did not hold")
    trigger: str
    evidence: dict[str, Any] = Field(description="every condition checked (held, required, detail) and the "
                                                 "tracking state seen")
    at: datetime


class CaseCreatedOut(CaseSummaryOut):
    waybill_nos: list[str]


class CaseOut(CaseSummaryOut):
    parcels: list[ShipmentOut]
    intercepts: list[InterceptOut]
    refund: RefundOut | None = Field(description="the live refund, if any")
    refunds: list[RefundOut]
    timeline: list[EventOut]
    carrier_exchanges: list[ExchangeOut]
    decisions: list[DecisionOut] = []


class CaseListItemOut(Out):
    id: str
    order_id: str
    type: CaseType
    status: CaseStatus
    refund_fen: int
    channel: str
    channel_ref: str | None
    resolution: Resolution | None
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime | None = None
    attention: str = ""
    arbitration: ArbitrationStatus = ArbitrationStatus.none


class CaseListOut(Out):
    items: list[CaseListItemOut]
    total: int
    limit: int
    offset: int


class CarrierCheckOut(Out):
    status: str = Field(description="answered, or unavailable (the carrier could not be asked in time)")
    eligible: bool | None = None
    reason: InterceptReason | None = None
    fee_minor: int | None = Field(None, description="in the currency's minor unit (fen, cents)")
    currency: str | None = None
    payer: str | None = None
    fee_when: str | None = Field(None, description="e.g. 'only if the intercept completes' (UPS)")
    message: str = ""
    types: list[InterceptType] = []


class PreviewParcelOut(Out):
    waybill_no: str
    carrier: str
    tracking_status: TrackingStatus
    can_intercept: bool
    reason: str | None = Field(description="why not, in the intercept reason vocabulary")
    fee_fen: int | None = Field(description="the fee in fen when the carrier quoted one in CNY; null when unknown "
                                            "(no Chinese carrier publishes its intercept fee)")
    fee_payer: str = Field(description="who pays the fee: sender, recipient, third_party, monthly_account")
    intercept_types: list[InterceptType] = Field(description="the intercept types lanjie can send for this parcel")
    carrier_check: CarrierCheckOut | None = Field(
        description="the carrier's own eligibility and fee answer, asked live; null when it has no such check")
    items: list[ItemOut]
    other_items_value_fen: int | None = Field(description="goods in the parcel beyond this refund (合包)")
    shared_with_other_items: bool


class PreviewOut(Out):
    aftersale_id: str
    parcels: list[PreviewParcelOut]


class InterceptsAcceptedOut(Out):
    aftersale_id: str
    intercepts: list[InterceptOut]


class BatchResultOut(Out):
    aftersale_id: str
    result: str = Field(description="accepted (intercepts requested) or refused (nothing changed for this case)")
    intercepts: list[InterceptOut] = Field(description="empty when refused")
    problem: dict[str, Any] | None = Field(description="why the case was refused, as an RFC 9457 problem")


class InterceptBatchOut(Out):
    accepted: int
    refused: int
    results: list[BatchResultOut] = Field(description="one per item, in the order given")


class CarrierAccountOut(Out):
    id: str
    carrier: str
    credential_fields: list[str] = Field(description="names only: credentials are never returned")
    callback_url: str


class CarrierAccountListOut(Out):
    items: list[CarrierAccountOut]


class ShopOut(Out):
    id: str
    name: str
    settlement_policy: SettlementPolicy
    timezone: str


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str


PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemOut, "description": text, "content": {"application/problem+json": {}}}
    for code, text in ((400, "malformed JSON or missing Idempotency-Key"), (401, "no or bad API key"),
                       (404, "no such object for this shop"), (409, "a rule or the current state refuses it, or "
                                                                    "the same Idempotency-Key is in flight"),
                       (422, "a field is invalid, or the Idempotency-Key was used with another body"))
}


class ChannelAccountOut(Out):
    id: str
    channel: str
    credential_fields: list[str] = Field(description="names only: credentials are never returned")
    callback_url: str = Field(description="where the platform pushes messages for this shop (unguessable)")


class ChannelAccountListOut(Out):
    items: list[ChannelAccountOut]


class RulesOut(Out):
    rules: list[dict[str, Any]]
    deadline_margin_minutes: int


class DryRunCaseOut(Out):
    case_id: str
    order_id: str
    channel: str
    created_at: datetime
    verdict: str
    rule: str | None
    reason: str
    wait_until: datetime | None
    checks: list[dict[str, Any]]
    actual: dict[str, Any] = Field(description="what happened to the case: status, resolution, intercepted")


class DryRunOut(Out):
    summary: dict[str, Any]
    cases: list[DryRunCaseOut]


class EvidenceOut(Out):
    aftersale_id: str
    generated_at: datetime
    summary: dict[str, str] = Field(description="a statement per language (zh-CN, en) to paste into the platform")
    case: dict[str, Any]
    parcels: list[dict[str, Any]]
    intercept_answers: list[dict[str, Any]] = Field(description="the carrier's own answers, verbatim (redacted)")
    refunds: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    platform_exchanges: list[dict[str, Any]] = Field(description="lanjie's calls to the sales platform")


class ReturnItemOut(Out):
    sku: str
    expected: int
    received: int


class ReturnOut(Out):
    id: str
    aftersale_id: str
    shipment_id: str
    waybill_no: str = Field(description="the forward waybill (returned parcels usually keep it)")
    return_waybill_no: str = Field(description="a new number the carrier gave the return, if any")
    status: ReturnStatus
    started_at: datetime
    last_scan_at: datetime | None
    eta_at: datetime | None = Field(description="the estimate of arrival while it is on its way")
    returned_at: datetime | None
    received_at: datetime | None
    inspection: Inspection | None
    inspection_note: str
    items: list[ReturnItemOut]
    photos: list[str] = Field(description="evidence file ids")


class ReturnListOut(Out):
    items: list[ReturnOut]


class ClaimOut(Out):
    id: str
    aftersale_id: str
    return_id: str
    shipment_id: str
    carrier: str
    waybill_no: str
    type: ClaimType
    status: ClaimStatus
    amount_fen: int = Field(description="what is asked, from the shop's contract with the carrier")
    basis: dict[str, Any] = Field(description="how the amount was worked out: rule, loss, insured value, freight, cap")
    filing_deadline_at: datetime
    filed_via: str
    carrier_ref: str
    filed_at: datetime | None
    approved_fen: int | None
    paid_fen: int
    payouts: list[dict[str, Any]] = Field(description="{amount_fen, reference, paid_at}")
    documents_requested: list[str]
    message: str
    created_at: datetime


class ClaimDetailOut(ClaimOut):
    evidence: dict[str, Any] = Field(description="tracking, the carrier's intercept answers, the order's goods, "
                                                 "insured value, freight, the inspection and its photos, and "
                                                 "the files people added (files: [{file_id, added_at, note}])")
    online: bool = Field(description="whether lanjie can file this claim through the carrier's API")


class ClaimListOut(Out):
    items: list[ClaimOut]
    total: int


class ContractOut(Out):
    carrier: str
    rule: PayoutRule
    cap_multiple: int
    cap_fen: int | None
    filing_days: int | None


class ContractListOut(Out):
    items: list[ContractOut]
