"""Request bodies of the public API (responses are plain JSON documented by example)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from lanjie.domain.states import CaseType, InterceptType, SettlementPolicy

# No control characters in names and ids (PostgreSQL cannot even store NUL); free text may break lines.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
_NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_PRINTABLE)]
Waybill = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9\-]{4,40}$")]
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


class InterceptIn(Strict):
    type: InterceptType = InterceptType.return_to_sender
    address: PartyIn | None = Field(None, description="required for `redirect`: the new recipient")
    waybill_nos: list[Waybill] | None = Field(None, description="only these parcels of the case (default: all)")


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
