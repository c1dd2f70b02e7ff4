"""Kuaidi100's work orders (工单) as the sandbox plays them: claims for lost, damaged or short parcels.

Documented by Kuaidi100 (reference §2.8; api.kuaidi100.com/document/5f0ff095bc8da837cbd8aef10) and followed:
``POST workorder/api/create`` with form fields ``key``, ``sign``, ``t``, ``param`` (fields or query), ``sign``
= upper MD5 of param + t + key + secret; ``param`` = ``{secondType, kuaidinum, desc{content, attach},
callBackUrl, msgCallBackUrl, telWeight, modityValue}`` with ``modityValue`` (the goods' value) required for
damage, loss, missing and wrong items; the answer ``{code, message, time, success, data{id, status}}``;
couriers YTO, Yunda, J&T, STO and Deppon; results by callback.

**Sandbox choices** (the rest of Kuaidi100's document was not available; a real account may differ):

* ``secondType`` 5 破损 damage, 6 遗失 loss, 7 少件 missing items, 8 错件 wrong items (decided as missing
  items); other values answer 400.
* ``desc.attach`` items ``{name, type, category, content}``: ``content`` Base64; ``category`` photo,
  proof_of_value or document (an image without a category counts as a photo). ``modityValue`` and every
  amount are yuan with at most two decimals; the goods' value is what the claim asks, capped by the
  adjudicator (insured value, else 3× the freight).
* ``salt`` in ``param`` signs the result callback (``sign`` = upper MD5 of param + salt), like interceptOrder.
* Answer codes: 200 filed (``data.status`` 0); 400 bad parameter; 403 unknown key or bad signature; 429
  rate limited; 30201 waybill unknown; 30202 courier not served by work orders; 30203 a work order of
  this type is open for the waybill (``data.id`` names it); 30204 no such work order (detail).
* ``POST workorder/api/detail``, signed alike, ``param = {"id": <id>}``: ``data`` = ``{id, kuaidinum,
  secondType, status, statusDesc, modityValue, compensateValue, reply, needMaterials[], createTime,
  updateTime}``; only the key that filed a work order sees it.
* ``status``: 0 待处理 submitted, 1 处理中 in review, 2 待补充材料 documents asked for, 3 同意赔付 approved,
  4 部分赔付 approved in part, 5 已驳回 rejected, 6 已赔付 paid.
* The result callback, on every step after filing, to ``callBackUrl``: form ``param`` + ``sign``, ``param`` =
  ``{workorderId, kuaidinum, status, statusDesc, compensateValue, reply, needMaterials[], time}``;
  acknowledged like a tracking push, retried like every Kuaidi100 callback. ``msgCallBackUrl`` is accepted
  and never called.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from lanjie.sandbox.claims import ClaimKind, ClaimStep, Evidence, FiledClaim, Filing, RejectReason
from lanjie.sandbox.kuaidi100_wire import (
    ParamError,
    intercept_sign,
    is_ack,
    is_url,
    json_object,
    millis,
    push_sign,
    text_field,
)
from lanjie.sandbox.model import Channel
from lanjie.sandbox.push import Delivery, PushBody
from lanjie.sandbox.serving import WireAnswer
from lanjie.sandbox.wirefmt import dumps, wire_time

if TYPE_CHECKING:
    from lanjie.sandbox.kuaidi100_twin import Kuaidi100Twin

PROTOCOL = "kuaidi100"
CURRENCY = "CNY"
CARRIERS = frozenset({"yto", "yunda", "jtexpress", "sto", "debangwuliu"})  # canonical sandbox codes
SECOND_TYPES: Mapping[int, ClaimKind] = {5: ClaimKind.damage, 6: ClaimKind.loss, 7: ClaimKind.short,
                                         8: ClaimKind.short}
STATUS: Mapping[ClaimStep, tuple[int, str]] = {
    ClaimStep.submitted: (0, "待处理"),
    ClaimStep.in_review: (1, "处理中"),
    ClaimStep.waiting_on_documents: (2, "待补充材料"),
    ClaimStep.approved: (3, "同意赔付"),
    ClaimStep.approved_partial: (4, "部分赔付"),
    ClaimStep.rejected: (5, "已驳回"),
    ClaimStep.paid: (6, "已赔付"),
}
MATERIALS = {"photo": "破损照片", "proof_of_value": "商品价值证明（订单截图或发票）", "statement": "情况说明"}
REJECTIONS = {
    RejectReason.not_eligible: "经核实，快件状态不符合理赔条件",
    RejectReason.filing_window: "已超过理赔申请时效",
    RejectReason.documents_missing: "未在规定期限内补充材料",
    RejectReason.adjudicated: "经核实，不予赔付",
    RejectReason.forced: "经核实，不予赔付",
}
OK, BAD, FORBIDDEN, LIMITED = 200, 400, 403, 429
WAYBILL_UNKNOWN, NOT_SERVED, ALREADY_OPEN, NOT_FOUND = 30201, 30202, 30203, 30204
_ID_BASE = 880000  # work-order ids are numbers


@dataclass(frozen=True)
class Order:
    """What the desk keeps of a work order beyond the claim: who filed it and where to report."""

    key: str
    second_type: int
    modity_value: str
    callback_url: str
    salt: str


def yuan(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _fen(text: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ParamError("参数错误：modityValue 必须是金额（元）") from None
    if not value.is_finite() or value < 0 or int(value.as_tuple().exponent) < -2:
        raise ParamError("参数错误：modityValue 必须是金额（元，最多两位小数）")
    return int(value * 100)


def _evidence(desc: Mapping[str, Any]) -> frozenset[Evidence]:
    attach = desc.get("attach") or []
    if not isinstance(attach, list):
        raise ParamError("参数错误：desc.attach 必须是数组")
    found: set[Evidence] = set()
    for index, item in enumerate(attach):
        if not isinstance(item, dict):
            raise ParamError(f"参数错误：desc.attach[{index}] 必须是对象")
        text_field(item, "name", within=f"desc.attach[{index}]")
        media_type = text_field(item, "type", within=f"desc.attach[{index}]")
        try:
            base64.b64decode(text_field(item, "content", within=f"desc.attach[{index}]"), validate=True)
        except (binascii.Error, ValueError):
            raise ParamError(f"参数错误：desc.attach[{index}].content 不是 Base64") from None
        category = text_field(item, "category", required=False, within=f"desc.attach[{index}]")
        if category == "proof_of_value":
            found.add(Evidence.proof_of_value)
        elif category == "photo" or (not category and media_type.startswith("image/")):
            found.add(Evidence.photo)
    return frozenset(found)


class WorkOrderDesk:
    """``workorder/api/create`` and ``workorder/api/detail``, and the result callbacks."""

    def __init__(self, twin: Kuaidi100Twin) -> None:
        self.twin = twin
        self.world = twin.world
        self.orders: dict[str, Order] = {}  # work-order id → what the desk keeps

    def _answer(self, code: int, message: str, data: Mapping[str, Any] | None = None,
                waybill_no: str = "") -> WireAnswer:
        body = {"code": code, "message": message, "time": millis(self.world.clock.now()), "success": code == OK,
                "data": dict(data or {})}
        return WireAnswer(body, str(code), message, waybill_no=waybill_no)

    def rate_limited(self) -> WireAnswer:
        return self._answer(LIMITED, "请求过于频繁，请稍后再试")

    def _signed_param(self, fields: Mapping[str, str]) -> tuple[str, dict[str, Any]] | WireAnswer:
        """The caller's key and decoded param, or the answer refusing the request."""
        for name in ("key", "sign", "t", "param"):
            text_field(fields, name)
        if not fields["t"].isdigit():
            raise ParamError("参数错误：t 必须是毫秒时间戳")
        account = self.twin.accounts.get(fields["key"])
        if account is None or account.expired:
            return self._answer(FORBIDDEN, "key 无效或已过期")
        expected = intercept_sign(fields["param"], fields["t"], account.key, account.secret)
        if not hmac.compare_digest(expected.encode(), fields["sign"].encode()):
            return self._answer(FORBIDDEN, "签名错误")
        return account.key, json_object(fields["param"])

    # ---- create -----------------------------------------------------------------------------------

    def create(self, fields: Mapping[str, str]) -> WireAnswer:
        try:
            return self._create(fields)
        except ParamError as exc:
            return self._answer(BAD, str(exc))

    def _create(self, fields: Mapping[str, str]) -> WireAnswer:
        checked = self._signed_param(fields)
        if isinstance(checked, WireAnswer):
            return checked
        key, param = checked
        second_type = param.get("secondType")
        if isinstance(second_type, bool) or not isinstance(second_type, int) or second_type not in SECOND_TYPES:
            raise ParamError(f"参数错误：secondType 不支持 {second_type!r}")
        waybill_no = text_field(param, "kuaidinum")
        desc = param.get("desc")
        if not isinstance(desc, dict):
            raise ParamError("参数错误：缺少 desc")
        text_field(desc, "content", within="desc")
        evidence = _evidence(desc)
        callback_url = text_field(param, "callBackUrl", required=False)
        if callback_url and not is_url(callback_url):
            raise ParamError("参数错误：callBackUrl 不是 http(s) 地址")
        modity_value = text_field(param, "modityValue")  # required for damage, loss, missing and wrong items
        asked = _fen(modity_value)
        salt = text_field(param, "salt", required=False)
        parcel = self.world.parcels.get(waybill_no)
        if parcel is None:
            return self._answer(WAYBILL_UNKNOWN, "单号不存在", waybill_no=waybill_no)
        if parcel.carrier_code not in CARRIERS:
            return self._answer(NOT_SERVED, "该快递公司暂不支持工单（支持圆通、韵达、极兔、申通、德邦）",
                                waybill_no=waybill_no)
        claim, filing = self.world.claims.file(
            protocol=PROTOCOL, waybill_no=waybill_no, kind=SECOND_TYPES[second_type], asked_minor=asked,
            currency=CURRENCY, evidence=evidence, make_id=lambda n: str(_ID_BASE + n), report=self._report)
        assert claim is not None  # the parcel exists
        if filing is Filing.duplicate:
            return self._answer(ALREADY_OPEN, "该单号已有同类工单", self._brief(claim), waybill_no)
        self.orders[claim.claim_id] = Order(key, second_type, modity_value, callback_url, salt)
        return self._answer(OK, "提交成功", self._brief(claim), waybill_no)

    @staticmethod
    def _brief(claim: FiledClaim) -> dict[str, int]:
        return {"id": int(claim.claim_id), "status": STATUS[claim.status][0]}

    # ---- detail -----------------------------------------------------------------------------------

    def detail(self, fields: Mapping[str, str]) -> WireAnswer:
        try:
            checked = self._signed_param(fields)
        except ParamError as exc:
            return self._answer(BAD, str(exc))
        if isinstance(checked, WireAnswer):
            return checked
        key, param = checked
        ref = param.get("id")
        claim = self.world.claims.find(PROTOCOL, str(ref)) if isinstance(ref, int | str) else None
        order = self.orders.get(claim.claim_id) if claim is not None else None
        if claim is None or order is None or order.key != key:
            return self._answer(NOT_FOUND, "工单不存在")
        data = {"id": int(claim.claim_id), "kuaidinum": claim.waybill_no, "secondType": order.second_type,
                **self._progress(claim), "modityValue": order.modity_value,
                "createTime": wire_time(claim.filed_at), "updateTime": wire_time(claim.status_at or claim.filed_at)}
        return self._answer(OK, "查询成功", data, claim.waybill_no)

    def _progress(self, claim: FiledClaim) -> dict[str, Any]:
        code, text = STATUS[claim.status]
        granted = claim.paid_minor if claim.status is ClaimStep.paid else claim.approved_minor
        if claim.status is ClaimStep.rejected:
            reply = REJECTIONS[claim.reason] if claim.reason is not None else "不予赔付"
        elif claim.status is ClaimStep.waiting_on_documents:
            reply = "请补充材料：" + "、".join(MATERIALS.get(d, d) for d in claim.documents_requested)
        elif granted is not None and claim.status is not ClaimStep.in_review:
            reply = f"{text} {yuan(granted)} 元"
        else:
            reply = text
        return {"status": code, "statusDesc": text,
                "compensateValue": yuan(granted) if granted is not None and code in (3, 4, 6) else "",
                "reply": reply, "needMaterials": [MATERIALS.get(d, d) for d in claim.documents_requested]}

    # ---- callbacks --------------------------------------------------------------------------------

    def _report(self, claim: FiledClaim) -> None:
        order = self.orders.get(claim.claim_id)
        if order is None or not order.callback_url or claim.status is ClaimStep.submitted:
            return  # the filer learns "submitted" from the answer itself
        param = dumps({"workorderId": int(claim.claim_id), "kuaidinum": claim.waybill_no, **self._progress(claim),
                       "time": wire_time(self.world.clock.now())})
        self.world.pushes.send(Delivery(
            channel=Channel.callback, waybill_no=claim.waybill_no, url=order.callback_url,
            body=PushBody.form({"param": param, "sign": push_sign(param, order.salt)}),
            summary=f"workorder {claim.claim_id} {claim.status}", ack=is_ack,
        ))
