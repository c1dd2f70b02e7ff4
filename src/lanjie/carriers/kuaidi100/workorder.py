"""Kuaidi100 work orders (工单): filing a claim for a lost, damaged or short parcel, and following it.

Documented by Kuaidi100 (api.kuaidi100.com/document/5f0ff095bc8da837cbd8aef10, carrier-protocols §2.8) and
followed exactly: ``POST {api}/workorder/api/create``, form fields ``key``, ``sign``, ``t``, ``param`` with
``sign`` = upper MD5 hex of param + t + key + secret (the interceptOrder recipe); ``param`` fields
``secondType`` (int), ``kuaidinum``, ``desc{content, attach}``, ``callBackUrl``, ``modityValue`` (the goods'
value, a string, required for damage, loss, missing and wrong items); the answer ``{code, message, time,
success, data{id, status}}`` with ``code`` 200 = filed; couriers YTO, Yunda, J&T, STO and Deppon; results
by callback. The API has no field for the amount asked, nor for lanjie's claim id.

*Sandbox choices* (the rest of the document was not available; shared with the sandbox twin,
``lanjie.sandbox.kuaidi100_workorder``, and kept in the tables below so real values drop in):

- ``secondType``: 5 破损 damage, 6 遗失 loss, 7 少件 missing items (``SECOND_TYPES``).
- ``desc.content``: the description, then the amount asked, lanjie's claim id and the contact, one per
  line (the API has no fields for them); ``desc.attach``: ``[{name, type, category, content}]`` with the
  file's media type, lanjie's kind (photo, proof_of_value, document) and the bytes in Base64.
- ``modityValue`` and every amount: yuan with two decimals (``"128.00"``), as Kuaidi100's other APIs.
- ``salt`` is added to ``param`` (the work-order document names none; interceptOrder takes one): the
  result callback is signed with it like every Kuaidi100 callback, ``sign`` = MD5(param + salt).
- Answer codes besides 200: 400 bad parameter, 403 key or signature, 429 rate limit (the request is
  refused: CarrierRejected); 30201 waybill unknown, 30202 courier not served by work orders (the claim is
  refused: ClaimAck(accepted=False)); 30203 a work order of this type is already open for the waybill,
  ``data.id`` names it (accepted: our own earlier filing whose answer was lost looks exactly like this);
  30204 no such work order (detail).
- The status query: ``POST {api}/workorder/api/detail``, signed the same way, ``param = {"id": <id>}``;
  ``data`` = ``{id, kuaidinum, secondType, status, statusDesc, modityValue, compensateValue, reply,
  needMaterials[], createTime, updateTime}``.
- ``status`` (处理状态): see ``STATUSES``; ``compensateValue`` is the amount granted, in yuan.
- The result callback: a form POST of ``param`` + ``sign`` to ``callBackUrl``; ``param`` =
  ``{workorderId, kuaidinum, status, statusDesc, compensateValue, reply, needMaterials[], time}``,
  acknowledged like a tracking push. ``workorderId`` is what tells it from a tracking push (``lastResult``)
  and an intercept result (``taskId``). lanjie asks for no message callbacks (``msgCallBackUrl``): a
  request for documents arrives as status 2.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lanjie.carriers.base import ClaimAck, ClaimAttachment, ClaimRequest, ClaimState, Push
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable
from lanjie.domain.states import ClaimStatus, ClaimType, InterceptReason

from . import codes, wire

log = logging.getLogger(__name__)

CREATE_PATH = "/workorder/api/create"
DETAIL_PATH = "/workorder/api/detail"
CURRENCY = "CNY"
#: The companies Kuaidi100's work orders serve [official]: YTO, Yunda, J&T, STO and Deppon.
COMPANIES = frozenset({"yuantong", "yunda", "jtexpress", "shentong", "debangwuliu"})
#: The same couriers in lanjie's courier codes, every spelling lanjie has for them.
COURIERS = frozenset(courier for courier, company in codes.COMPANY_CODES.items() if company in COMPANIES)

#: ``secondType`` of each claim type (*sandbox choice*; Kuaidi100's appendix 7.1 holds the real values).
SECOND_TYPES: Mapping[ClaimType, int] = {
    ClaimType.damage: 5,  # 破损
    ClaimType.loss: 6,  # 遗失
    ClaimType.short: 7,  # 少件
}
TYPE_NAMES: Mapping[ClaimType, str] = {ClaimType.damage: "破损", ClaimType.loss: "遗失", ClaimType.short: "少件"}

#: Work-order ``status`` onto lanjie's ClaimStatus (*sandbox choice*). "Received, not yet looked at" is
#: reported as in_review: lanjie's own ``filed`` already says it was sent.
STATUSES: Mapping[int, ClaimStatus] = {
    0: ClaimStatus.in_review,  # 待处理
    1: ClaimStatus.in_review,  # 处理中
    2: ClaimStatus.waiting_on_documents,  # 待补充材料
    3: ClaimStatus.approved,  # 同意赔付
    4: ClaimStatus.approved_partial,  # 部分赔付
    5: ClaimStatus.rejected,  # 驳回
    6: ClaimStatus.paid,  # 已赔付
    7: ClaimStatus.closed,  # 已关闭
}
#: An unknown status says nothing decisive, so the claim stays in review (and a warning is logged).
UNKNOWN_STATUS = ClaimStatus.in_review

OK = 200
#: Answer codes that refuse the request itself (*sandbox choice* beyond 200), and the reason raised.
REQUEST_ERRORS: Mapping[int, str] = {
    400: InterceptReason.carrier_error,
    403: InterceptReason.auth_failed,
    429: InterceptReason.rate_limited,
}
WAYBILL_UNKNOWN = 30201
COURIER_NOT_SERVED = 30202
ALREADY_OPEN = 30203  # ``data.id`` names the open work order: accepted
NOT_FOUND = 30204
#: Codes that refuse the claim (not the request): ClaimAck(accepted=False).
CLAIM_REFUSALS = frozenset({WAYBILL_UNKNOWN, COURIER_NOT_SERVED})


def yuan(minor: int) -> str:
    """Fen as Kuaidi100 writes money: 12800 → ``"128.00"``."""
    if minor < 0:
        raise ValueError("an amount is never negative")
    return f"{minor // 100}.{minor % 100:02d}"


def fen(text: str) -> int:
    """``"128.00"`` → 12800, exactly (Decimal, never float); wire.PayloadError when it is no amount."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise wire.PayloadError(f"bad amount {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise wire.PayloadError(f"bad amount {text!r}")
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _attachment(attachment: ClaimAttachment) -> dict[str, str]:
    return {"name": attachment.name, "type": attachment.media_type, "category": attachment.kind,
            "content": base64.b64encode(attachment.content).decode("ascii")}


def content(request: ClaimRequest) -> str:
    """``desc.content``: what happened, then what the work-order API has no field for."""
    lines = [request.description.strip(), f"索赔金额：{yuan(request.amount_minor)} 元",
             f"lanjie 理赔单号：{request.request_id}"]
    contact = " ".join(part for part in (request.contact_name, request.contact_phone) if part)
    if contact:
        lines.append(f"联系人：{contact}")
    return "\n".join(line for line in lines if line)


def create_param(request: ClaimRequest, *, salt: str) -> str:
    """The ``param`` of a work order for a claim, serialised the one way it is signed and sent.

    Raises CarrierRejected before any call for what Kuaidi100 cannot take: another currency, a claim
    type without a work-order type.
    """
    if request.currency != CURRENCY:
        raise CarrierRejected("400", f"kuaidi100 work orders are in CNY, not {request.currency}")
    second_type = SECOND_TYPES.get(request.type)
    if second_type is None:
        raise CarrierRejected("400", f"kuaidi100 work orders have no type for {request.type}")
    desc: dict[str, Any] = {"content": content(request)}
    if request.attachments:
        desc["attach"] = [_attachment(a) for a in request.attachments]
    param: dict[str, Any] = {"secondType": second_type, "kuaidinum": request.waybill_no, "desc": desc}
    if request.callback_url:
        param["callBackUrl"] = request.callback_url
    param["modityValue"] = yuan(request.goods_value_minor)
    param["salt"] = salt
    return wire.dumps(param)


def signed_form(param: str, *, key: str, secret: str, t: str) -> dict[str, str]:
    """The form of every work-order call, fields in the documented order (key, sign, t, param)."""
    return {"key": key, "sign": wire.label_sign(param, t, key, secret), "t": t, "param": param}


def detail_param(claim_ref: str) -> str:
    """``param`` of the status query: the work order's id, a number as Kuaidi100 issues them."""
    ref = claim_ref.strip()
    return wire.dumps({"id": int(ref) if ref.isdigit() else ref})


def shown_param(param: str) -> str:
    """The param as the exchange log keeps it: each attachment's bytes replaced by their size and digest."""
    data = json.loads(param)
    attach = data.get("desc", {}).get("attach") if isinstance(data.get("desc"), dict) else None
    for item in attach if isinstance(attach, list) else []:
        if isinstance(item, dict) and isinstance(item.get("content"), str):
            raw = base64.b64decode(item["content"])
            item["content"] = f"<{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()[:16]}>"
    return wire.dumps(data)



def _raise_for_request(api: str, code: int | None, message: str) -> None:
    reason = REQUEST_ERRORS.get(code) if code is not None else None
    if reason is not None:
        raise CarrierRejected(str(code), message, reason=reason)
    if code != OK:
        log.warning("kuaidi100 %s answered an unknown code %r: %s", api, code, message)


def _data(body: Mapping[str, Any]) -> Mapping[str, Any]:
    data = body.get("data")
    return data if isinstance(data, Mapping) else {}


def parse_create_answer(body: Mapping[str, Any]) -> ClaimAck:
    """The ClaimAck of a ``workorder/api/create`` answer; a refused request raises CarrierRejected."""
    message = str(body.get("message") or "")
    code = wire.int_code(body.get("code"))
    if code in CLAIM_REFUSALS:
        return ClaimAck(accepted=False, message=message)
    _raise_for_request("workorder/api/create", code, message)
    ref = _data(body).get("id")
    if code in (OK, ALREADY_OPEN) and ref not in (None, ""):
        return ClaimAck(accepted=True, claim_ref=str(ref), message=message)
    if code == OK:
        raise CarrierUnavailable("kuaidi100 workorder/api/create: filed, but the answer names no work order")
    return ClaimAck(accepted=False, message=message or f"kuaidi100 answered code {code}")



def claim_state(data: Mapping[str, Any], *, id_field: str = "id") -> ClaimState:
    """A ClaimState from a work order as the detail query or a callback describes it."""
    ref = wire.text_field(data, id_field)
    if not ref:
        raise wire.PayloadError(f"the work order has no {id_field}")
    raw_status = data.get("status")
    code = wire.int_code(raw_status)
    status = STATUSES.get(code) if code is not None else None
    if status is None:
        log.warning("kuaidi100 work order %s has an unknown status %r; treated as %s", ref, raw_status, UNKNOWN_STATUS)
        status = UNKNOWN_STATUS
    granted = wire.text_field(data, "compensateValue")
    materials = data.get("needMaterials") or []
    if not isinstance(materials, list):
        raise wire.PayloadError("needMaterials is not a list")
    return ClaimState(
        claim_ref=ref,
        status=status,
        approved_minor=fen(granted) if granted else None,
        message=wire.text_field(data, "reply") or wire.text_field(data, "statusDesc"),
        documents_requested=tuple(str(item) for item in materials),
        waybill_no=wire.text_field(data, "kuaidinum"),
    )


def parse_detail_answer(body: Mapping[str, Any]) -> ClaimState:
    """The ClaimState of a ``workorder/api/detail`` answer; an unknown work order raises CarrierRejected."""
    message = str(body.get("message") or "")
    code = wire.int_code(body.get("code"))
    if code == NOT_FOUND:
        raise CarrierRejected(str(code), message or "no such work order")
    _raise_for_request("workorder/api/detail", code, message)
    if code != OK:
        raise CarrierRejected(str(code), message or "unexpected answer")
    try:
        return claim_state(_data(body))
    except wire.PayloadError as exc:
        raise CarrierUnavailable(f"kuaidi100 workorder/api/detail: malformed answer: {exc}") from exc


def is_callback(data: Mapping[str, Any]) -> bool:
    """A work-order result callback, not a tracking push or an intercept result."""
    return "workorderId" in data and "lastResult" not in data and "taskId" not in data


def callback_push(data: Mapping[str, Any], message_key: str, ack: bytes, media_type: str) -> Push:
    """The Push of a verified work-order result callback (wire.PayloadError when it is malformed)."""
    return Push(message_key=message_key, claim=claim_state(data, id_field="workorderId"), ack_body=ack,
                ack_media_type=media_type)
