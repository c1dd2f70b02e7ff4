"""Response shapes, for the OpenAPI description (the routes build the JSON in ``views``; tests check
that every answer validates against these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from lanjie.domain.states import (
    CaseStatus,
    CaseType,
    InterceptReason,
    InterceptStatus,
    InterceptType,
    RefundStatus,
    Resolution,
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


class CaseCreatedOut(CaseSummaryOut):
    waybill_nos: list[str]


class CaseOut(CaseSummaryOut):
    parcels: list[ShipmentOut]
    intercepts: list[InterceptOut]
    refund: RefundOut | None = Field(description="the live refund, if any")
    refunds: list[RefundOut]
    timeline: list[EventOut]
    carrier_exchanges: list[ExchangeOut]


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
