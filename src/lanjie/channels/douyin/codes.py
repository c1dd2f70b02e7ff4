"""Douyin's codes and what each means to lanjie, one table per kind.

Sources: sales-platforms.md §1.3, §1.5, §1.7 and the field comments of the public generated SDKs
(zsmhub/doudian-sdk ``api/afterSale_Detail``, ``message/``). Where the reference is silent the choice
is marked *decision* and documented in docs/channels.md; a real value replaces it here and nowhere else.

An unknown code never crashes: it maps to a safe default and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lanjie.channels.base import MessageKind
from lanjie.channels.errors import RejectionKind
from lanjie.domain.states import ArbitrationStatus, CaseType, PlatformStatus

log = logging.getLogger(__name__)

# -- after-sale types (after_sale_type / aftersale_type) ------------------------------------------------

#: ``after_sale_type`` onto lanjie's case types.
CASE_TYPES: Mapping[int, CaseType] = {
    0: CaseType.return_refund,  # 退货退款
    1: CaseType.refund_only_shipped,  # 已发货仅退款: the case lanjie intercepts for
    2: CaseType.refund_only_unshipped,  # 未发货仅退款
    3: CaseType.exchange,  # 换货
    # Decision: the order was cancelled (4 by the system, 5 by the buyer, detail only) before any
    # parcel mattered, so the closest is a refund without shipment.
    4: CaseType.refund_only_unshipped,
    5: CaseType.refund_only_unshipped,
    7: CaseType.resend,  # 补寄
    8: CaseType.exchange,  # 维修 (sub-type 8001 以换代修): goods go back and come back, like an exchange
}

#: Decision: price protection (6) and any unknown type read as return_refund, which lanjie never
#: intercepts for and never approves as a refund-only case; ``platform_type`` keeps the real code.
UNKNOWN_CASE_TYPE = CaseType.return_refund


def case_type(code: int) -> CaseType:
    """lanjie's type for an ``after_sale_type``; an unknown one is logged and read as return_refund."""
    found = CASE_TYPES.get(code)
    if found is None:
        if code != 6:
            log.warning("douyin after_sale_type %r is unknown; treated as %s", code, UNKNOWN_CASE_TYPE)
        return UNKNOWN_CASE_TYPE
    return found


# -- after-sale status (after_sale_status) and refund_status --------------------------------------------

REFUND_SUCCEEDED = 3  # refund_status: 1 待退款, 2 退款中, 3 退款成功, 4 退款失败, 5 追缴成功

#: ``after_sale_status`` onto lanjie's platform statuses; None = "done": refunded or agreed by refund_status.
_STATUSES: Mapping[int, PlatformStatus | None] = {
    6: PlatformStatus.awaiting_merchant,  # 售后申请: the merchant must answer
    7: PlatformStatus.awaiting_return,  # 售后退货中: waiting for the buyer's return
    8: PlatformStatus.other,  # 待商家发货 (resend / repair)
    11: PlatformStatus.awaiting_receipt,  # 售后已发货: the return is on its way or arrived (second review)
    12: None,  # 售后成功
    13: PlatformStatus.other,  # exchange / resend shipped, waiting for the buyer
    14: PlatformStatus.other,  # exchange / resend received by the buyer
    27: PlatformStatus.rejected,  # 拒绝售后申请
    28: PlatformStatus.closed,  # 售后失败 (withdrawn, timed out)
    29: PlatformStatus.rejected,  # 售后退货拒绝
    51: None,  # 订单取消成功 (detail only): the order's money goes back
    53: None,  # 逆向交易已完成 (detail only)
}


def platform_status(status: int, refund_status: int) -> PlatformStatus:
    """Where the case stands; an unknown status is logged and read as ``other`` (lanjie does not act on it)."""
    if status not in _STATUSES:
        log.warning("douyin after_sale_status %r is unknown; treated as other", status)
        return PlatformStatus.other
    found = _STATUSES[status]
    if found is None:
        return PlatformStatus.refunded if refund_status == REFUND_SUCCEEDED else PlatformStatus.agreed
    return found


# -- arbitration (arbitrate_status, message tags 212–218) ------------------------------------------------

#: ``arbitrate_status`` of the detail's ``arbitrate_info`` (and of arbitration messages).
ARBITRATION_STATUSES: Mapping[int, ArbitrationStatus] = {
    0: ArbitrationStatus.none,  # 未介入
    1: ArbitrationStatus.in_review,  # 仲裁中
    2: ArbitrationStatus.buyer_won,  # 客服同意 the buyer
    3: ArbitrationStatus.merchant_won,  # 客服驳回 the buyer
    4: ArbitrationStatus.evidence_requested,  # 待商家举证
    5: ArbitrationStatus.requested,  # decision: 协商期, the buyer applied and the parties negotiate
    255: ArbitrationStatus.cancelled,  # decision: 255 is "ended" in lists and "取消" in the filter: no verdict
}

#: Decision: an unknown arbitration status reads as in_review, so nothing is decided automatically.
UNKNOWN_ARBITRATION = ArbitrationStatus.in_review


def arbitration_status(code: int) -> ArbitrationStatus:
    """lanjie's arbitration status for an ``arbitrate_status``; unknown ones are logged and read as in_review."""
    found = ARBITRATION_STATUSES.get(code)
    if found is None:
        log.warning("douyin arbitrate_status %r is unknown; treated as %s", code, UNKNOWN_ARBITRATION)
        return UNKNOWN_ARBITRATION
    return found


#: What each arbitration tag says by itself (216, the verdict, reads its arbitrate_status instead).
ARBITRATION_TAGS: Mapping[str, ArbitrationStatus] = {
    "212": ArbitrationStatus.requested,  # 买家发起客服仲裁
    "213": ArbitrationStatus.evidence_requested,  # 客服要求商家上传凭证
    "214": ArbitrationStatus.evidence_submitted,  # 商家上传仲裁凭证
    "215": ArbitrationStatus.cancelled,  # 买家取消仲裁
    "216": ArbitrationStatus.in_review,  # 客服仲裁结果: unless arbitrate_status names the winner
    "217": ArbitrationStatus.in_review,  # 仲裁客服介入
    "218": ArbitrationStatus.evidence_submitted,  # 协商期上传凭证
}

# -- message tags ----------------------------------------------------------------------------------------

#: Push ``tag`` onto what happened; every other tag is kept as ``other``.
MESSAGE_KINDS: Mapping[str, MessageKind] = {
    "200": MessageKind.created,  # 买家发起售后申请 (doudian_refund_RefundCreated)
    "201": MessageKind.refund_agreed,  # 同意退款: by the merchant, or automatically on timeout
    "202": MessageKind.refund_agreed,  # 同意退货申请
    "203": MessageKind.return_shipped,  # 买家退货给卖家
    "204": MessageKind.refused,  # 拒绝退款
    "205": MessageKind.refused,  # 拒绝退货申请
    "206": MessageKind.refund_succeeded,  # 退款成功
    "207": MessageKind.closed,  # 售后关闭: the buyer cancelled, or a system timeout
    "208": MessageKind.modified,  # 买家修改售后申请
    "209": MessageKind.deadline_changed,  # 售后超时时长变更 (status_deadline)
    **dict.fromkeys(ARBITRATION_TAGS, MessageKind.arbitration),
    "224": MessageKind.created,  # decision: 特殊权益售后 is a new after-sale; its type says what it is
    "225": MessageKind.refund_succeeded,  # 特殊权益售后退款成功
    "102": MessageKind.order_shipped,  # 卖家发货 (trade): carries the waybill
    "104": MessageKind.logistics_changed,  # 发货物流信息变更 (trade): carries the new waybill
    "105": MessageKind.address_changed,  # 买家收货信息变更 (trade)
}

#: Tags about an order rather than an after-sale: no aftersale_id.
TRADE_TAGS = frozenset({"102", "104", "105"})
#: Tags whose ``logistics_msg`` names a forward parcel.
WAYBILL_TAGS = frozenset({"102", "104"})


def message_kind(tag: str) -> MessageKind:
    """What a tag says happened; a tag lanjie does not act on is ``other`` (kept, not an error)."""
    return MESSAGE_KINDS.get(tag, MessageKind.other)


def is_after_sale_tag(tag: str) -> bool:
    """After-sale tags (200–227) carry an ``aftersale_id``."""
    return tag.isdigit() and 200 <= int(tag) <= 227


# -- logistics companies ---------------------------------------------------------------------------------

#: Douyin logistics company codes (``company_code``, ``express_company_id``) onto lanjie courier codes.
COURIERS: Mapping[str, str] = {
    "zhongtong": "zto",
    "shentong": "sto",
    "yunda": "yunda",
    "jtexpress": "jtexpress",
    "shunfeng": "sf",
    "jd": "jd",
    "yuantong": "yto",
    "ems": "ems",
}


def courier(company_code: str) -> str:
    """lanjie's courier code for a Douyin company code, '' (logged) when the table does not know it."""
    found = COURIERS.get(company_code.strip().lower(), "")
    if not found and company_code:
        log.warning("douyin logistics company %r has no lanjie courier code", company_code)
    return found


# -- answer codes ----------------------------------------------------------------------------------------

SUCCESS = 10000
PUSH_ACK = b'{"code":0,"msg":"success"}'
PUSH_REJECT = b'{"code":1,"msg":"fail"}'

#: The number after ``isv.business-failed:`` / ``isp.service-error:`` / ``isv.parameter-invalid:``.
SUB_CODES: Mapping[str, RejectionKind] = {
    "20309541": RejectionKind.stale,  # 售后状态错误, also a stale update_time: re-read, decide again
    "11001": RejectionKind.needs_person,  # 暂不支持通过OPEN处理，请登录抖店后台人工审核
    "11002": RejectionKind.needs_person,  # 店铺未设置或启用售后小助手策略 (returnGoodsToWareHouseSuccess)
    "11005": RejectionKind.refused,  # 操作失败
    "12000": RejectionKind.refused,
    "12001": RejectionKind.refused,  # 售后单类型与策略限制不符合 / already matched by another auto-refund
    "10002": RejectionKind.retry,  # 查询结果为空, try again
    "-10006": RejectionKind.retry,  # 服务器开了小差，请稍后重试
    "10000": RejectionKind.retry,  # 信息获取失败，请稍后重试
}

#: The top-level ``code`` when the sub-code names nothing known.
CODES: Mapping[int, RejectionKind] = {
    20000: RejectionKind.retry,  # isp.service-error: the platform's own trouble
    40003: RejectionKind.auth,  # decision (wire.md): isv.access-token-invalid
    40004: RejectionKind.invalid,  # isv.parameter-invalid
    50002: RejectionKind.refused,  # isv.business-failed
}

#: Decision: an unknown code is a refusal (a person looks), never a blind retry of a money write.
UNKNOWN_CODE_KIND = RejectionKind.refused


#: Whole sub-codes whose number alone would say something else.
FULL_SUB_CODES: Mapping[str, RejectionKind] = {
    "isv.parameter-invalid:sign": RejectionKind.auth,  # decision (wire.md): a bad signature
    # An after-sale id the platform does not know (operate, detail): retrying cannot help, unlike
    # isv.business-failed:10000 信息获取失败.
    "isp.service-error:10000": RejectionKind.invalid,
}


def rejection_kind(code: int, sub_code: str, message: str = "") -> RejectionKind:
    """What an error answer means for lanjie's next step; unknown codes are logged and read as refused."""
    if sub_code.startswith("isv.access-token"):
        return RejectionKind.auth
    if sub_code in FULL_SUB_CODES:
        return FULL_SUB_CODES[sub_code]
    number = sub_code.rsplit(":", 1)[1] if ":" in sub_code else ""
    if number in SUB_CODES:
        return SUB_CODES[number]
    if code in CODES:
        return CODES[code]
    log.warning("douyin answered an unknown code %r (%s): %s", code, sub_code, message)
    return UNKNOWN_CODE_KIND
