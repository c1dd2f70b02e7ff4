"""Request bodies of the public API (responses are plain JSON documented by example)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from lanjie.domain.autorules import Condition
from lanjie.domain.states import (
    CaseType,
    ClaimStatus,
    ClawbackStatus,
    Fallback,
    InterceptType,
    PayoutRule,
    SettlementPolicy,
)

# No control characters in names and ids (PostgreSQL cannot even store NUL); free text may break lines.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
_NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_PRINTABLE)]
#: Carriers print waybills in upper case; stored so, ``zt123`` and ``ZT123`` are one parcel, not two.
Waybill = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9\-]{4,40}$")]
Fen = Annotated[int, Field(ge=0, le=10**12, strict=True)]


#: An object id in a URL: malformed ids (NUL bytes, 10 KB of text) are refused before any query.
ObjectId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="e.g. as_3f9c…")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyIn(Strict):
    name: Text
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9+\-* ]{4,20}$")]
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500,
                                              pattern=_PRINTABLE)]


class ItemIn(Strict):
    sku: Text
    name: Text
    qty: Annotated[int, Field(ge=1, le=100000, strict=True)]
    price_fen: Fen


class ShipmentIn(Strict):
    carrier: Annotated[str, Field(description="`kuaidi100:zto` (aggregator:courier) or a courier code such as `zto`",
                                  examples=["kuaidi100:zto"])]
    waybill_no: Waybill
    order_id: Text
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=200)]
    value_fen: Fen
    freight_fen: Fen
    insured_fen: Fen | None = None
    sender: PartyIn
    recipient: PartyIn


class AfterSaleIn(Strict):
    order_id: Text
    type: CaseType
    refund_fen: Annotated[int, Field(gt=0, le=10**12, strict=True)]
    waybill_nos: Annotated[list[Waybill], Field(max_length=20)] = []
    reason: Annotated[str, StringConstraints(max_length=500, pattern=_NO_NUL)] = ""
    channel: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,40}$")] = "rest"
    channel_ref: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_PRINTABLE)] | None = None
    paid_fen: Fen | None = Field(None, description="what the buyer paid for what the request covers (the "
                                                   "auto-intercept rules compare the refund with it)")
    deadline_at: AwareDatetime | None = Field(None, description="the platform's deadline for the merchant's answer; "
                                                                "lanjie acts or alerts a person before it passes")


class InterceptIn(Strict):
    type: InterceptType = InterceptType.return_to_sender
    address: PartyIn | None = Field(None, description="required for `redirect` (the new recipient); refused "
                                                      "for the other types, which go back to the sender or outlet")
    waybill_nos: Annotated[list[Waybill], Field(min_length=1)] | None = Field(
        None, description="only these parcels of the case; absent or null: all of them (an empty list is refused)")

    @field_validator("address")
    @classmethod
    def _address_only_for_redirect(cls, address: PartyIn | None, info: ValidationInfo) -> PartyIn | None:
        # Stored and shown but never sent, an address on a return would mislead whoever reads the case.
        if address is not None and info.data.get("type", InterceptType.redirect) != InterceptType.redirect:
            raise ValueError(f"an address is only for a redirect; {info.data['type']} returns the parcel")
        return address


class BatchInterceptIn(InterceptIn):
    aftersale_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]


class InterceptBatchIn(Strict):
    items: list[BatchInterceptIn] = Field(min_length=1, max_length=100,
                                          description="one entry per case, each case at most once")


class CarrierAccountIn(Strict):
    carrier: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,40}$")] = "kuaidi100"
    credentials: Annotated[dict[Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_]{1,40}$")],
                                Annotated[str, StringConstraints(max_length=500, pattern=_PRINTABLE)]],
                           Field(description="the plugin's credential names (`lanjie carriers`), e.g. kuaidi100: key, "
                                             "customer, secret, salt (salt ≥ 32 characters)")]


class SettlementPolicyIn(Strict):
    settlement_policy: SettlementPolicy


class ChannelAccountIn(Strict):
    channel: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,40}$")] = Field(examples=["douyin"])
    credentials: Annotated[dict[Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_]{1,40}$")],
                                Annotated[str, StringConstraints(max_length=500, pattern=_PRINTABLE)]],
                           Field(description="the plugin's credential names, e.g. douyin: app_key, app_secret, "
                                             "access_token, shop_id; taobao: app_key, app_secret, session, "
                                             "seller_nick, platform")]


class ServiceHoursIn(Strict):
    opens: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "09:00"
    closes: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "21:00"


class RuleIn(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_PRINTABLE)]
    enabled: bool = True
    channels: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,40}$")]],
                        Field(max_length=20, description="cases of these channels only; empty: every channel")] = []
    conditions: list[Condition] | None = Field(None, description="the conditions that must hold (default: all seven)")
    intercept_type: InterceptType = InterceptType.return_to_sender
    service_hours: ServiceHoursIn = ServiceHoursIn()
    fee_ceiling_fen: Fen | None = Field(None, description="refuse quotes above this; an unquoted fee passes")
    fallback: Fallback = Field(Fallback.needs_person, description="what a refused, failed or missed intercept "
                                                                  "leads to: refund_on_refusal (拒签后退款), "
                                                                  "keep_waiting or needs_person")


class RulesIn(Strict):
    rules: Annotated[list[RuleIn], Field(max_length=50, description="in order: the first enabled rule whose "
                                                                     "channels match the case decides")]
    deadline_margin_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60, strict=True)] = 120


class DryRunIn(Strict):
    rules: list[RuleIn] | None = Field(None, max_length=50, description="rules to try (default: the shop's own)")
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: Annotated[int, Field(ge=1, le=2000, strict=True)] = 500


class ClawbackIn(Strict):
    outcome: Annotated[ClawbackStatus, Field(description="recovered or written_off")]
    note: Annotated[str, StringConstraints(max_length=500, pattern=_NO_NUL)] = ""


class RefundDecisionIn(Strict):
    decision: Literal["refund_now", "refund_on_refusal"] = Field(
        description="refund_now: agree the refund now (on the platform too); refund_on_refusal (拒签后退款): "
                    "the refund goes once the buyer refuses the parcel")
    note: Annotated[str, StringConstraints(max_length=500, pattern=_NO_NUL)] = ""


class RejectIn(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200,
                                             pattern=_PRINTABLE)]
    reason_code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_\-]{1,40}$")] = Field(
        "", description="the platform's reject reason code (Douyin reject_reason_code, Taobao refuse_reason_id)")
    evidence: Annotated[list[Annotated[str, StringConstraints(pattern=r"^https://[^\s]{1,490}$")]],
                        Field(max_length=4, description="evidence image URLs (https)")] = []


class ContractIn(Strict):
    rule: PayoutRule = Field(PayoutRule.capped_actual_loss, description="insured parcels are always paid up to "
                                                                        "the insured value; this is for the rest")
    cap_multiple: Annotated[int, Field(ge=1, le=100, strict=True)] = Field(3, description="× the freight "
                                                                                          "(Postal Law: 3)")
    cap_fen: Fen | None = Field(None, description="an absolute cap the contract sets instead of the multiple")
    filing_days: Annotated[int, Field(ge=1, le=3650, strict=True)] | None = Field(
        None, description="days to file a claim (default: UPS 90, others 30)")


class ClaimFileIn(Strict):
    via: Literal["online", "packet"] = Field(description="online: through the carrier's claim API (where it has "
                                                         "one); packet: a person sent the claim packet by hand")
    carrier_ref: Annotated[str, StringConstraints(max_length=128, pattern=_PRINTABLE)] = Field(
        "", description="for a packet: the number the carrier gave the claim, if any")


class ClaimStatusIn(Strict):
    status: ClaimStatus = Field(description="what the carrier said: in_review, waiting_on_documents, approved, "
                                            "approved_partial, rejected, paid, closed")
    approved_fen: Fen | None = None
    message: Annotated[str, StringConstraints(max_length=500, pattern=_NO_NUL)] = ""
    documents: Annotated[list[Text], Field(max_length=20)] = []


class ClaimDocumentsIn(Strict):
    file_ids: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,80}$")]],
                        Field(min_length=1, max_length=20)]


class ClaimEvidenceIn(Strict):
    file_ids: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,80}$")]],
                        Field(min_length=1, max_length=20)]
    note: Annotated[str, StringConstraints(max_length=500, pattern=_NO_NUL)] = ""


class PayoutIn(Strict):
    amount_fen: Annotated[int, Field(gt=0, le=10**12, strict=True)]
    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                                                pattern=_PRINTABLE)] = Field(description="the bank transfer or "
                                                                                         "credit note reference")
    paid_at: AwareDatetime


class CloseIn(Strict):
    note: Annotated[str, StringConstraints(max_length=500, pattern=_NO_NUL)] = ""
