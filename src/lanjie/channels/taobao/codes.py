"""Taobao's codes and what each means to lanjie, one table per kind.

The refund fields come from ``taobao.refund.get`` (sales-platforms.md §2.1; bububa/opentaobao
``taobao_refund_get.json``), the intercept enum from §2.3, the topics from tmc.js; the error
sub-codes marked *decision* are wire.md's (Taobao does not publish them), so a real value replaces
them here and nowhere else.

An unknown code never crashes: it maps to a safe default and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lanjie.channels.base import MessageKind
from lanjie.channels.errors import RejectionKind
from lanjie.domain.states import ArbitrationStatus, CaseType, ChannelInterceptStatus, PlatformStatus

log = logging.getLogger(__name__)

#: ``status`` of a refund.
STATUSES: Mapping[str, PlatformStatus] = {
    "WAIT_SELLER_AGREE": PlatformStatus.awaiting_merchant,  # 买家已经申请退款，等待卖家同意
    "WAIT_BUYER_RETURN_GOODS": PlatformStatus.awaiting_return,  # 卖家已经同意退款，等待买家退货
    "WAIT_SELLER_CONFIRM_GOODS": PlatformStatus.awaiting_receipt,  # 买家已经退货，等待卖家确认收货
    "SELLER_REFUSE_BUYER": PlatformStatus.rejected,  # 卖家拒绝退款
    "CLOSED": PlatformStatus.closed,  # 退款关闭
    "SUCCESS": PlatformStatus.refunded,  # 退款成功: the buyer has the money
}

#: ``dispute_type`` values that fix the case type by themselves (REFUND depends on shipping, see ``case_type``).
DISPUTE_TYPES: Mapping[str, CaseType] = {
    "REFUND_AND_RETURN": CaseType.return_refund,  # 退货退款
    "TMALL_EXCHANGE": CaseType.exchange,
    "TAOBAO_EXCHANGE": CaseType.exchange,
    "RESHIPPING": CaseType.resend,  # 补寄
    "REPAIR": CaseType.return_refund,  # 维修: the goods travel back to the seller, as in a return
}

#: ``order_status`` values of a trade whose goods have not left the seller (§ refund.get ``order_status``).
UNSHIPPED_ORDER_STATUSES = frozenset({"TRADE_NO_CREATE_PAY", "WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS"})

#: ``cs_status``: customer-service intervention (客服介入 / 淘宝介入) of a refund.
CS_STATUSES: Mapping[str, ArbitrationStatus] = {
    "1": ArbitrationStatus.none,  # 不需客服介入
    "2": ArbitrationStatus.requested,  # 需要客服介入
    "3": ArbitrationStatus.in_review,  # 客服已经介入
    "4": ArbitrationStatus.in_review,  # 客服初审完成
    "5": ArbitrationStatus.in_review,  # 客服主管复审失败: back to review
    # 客服处理完成 names no side: the refund's own status shows the outcome, so keep watching it.
    "6": ArbitrationStatus.in_review,
    "7": ArbitrationStatus.cancelled,  # 系统撤销 / 维权撤销
    "8": ArbitrationStatus.buyer_won,  # 支持买家
    "9": ArbitrationStatus.merchant_won,  # 支持卖家
    "10": ArbitrationStatus.evidence_requested,  # 举证中
    "11": ArbitrationStatus.in_review,  # 开放申诉: an appeal is open
}

#: ``logisticInterceptEnum`` of an ``interceptItemListResult`` item inside the refund's ``attribute``.
INTERCEPT_STATUSES: Mapping[str, ChannelInterceptStatus] = {
    "INTERCEPT_NOT_APPLY": ChannelInterceptStatus.not_applied,
    "INTERCEPT_APPLY": ChannelInterceptStatus.applied,  # 物流截单申请中
    "INTERCEPT_SUCCESS": ChannelInterceptStatus.succeeded,  # 物流截单成功
    "INTERCEPT_FAILED": ChannelInterceptStatus.failed,  # 物流截单失败
    "INTERCEPT_SELLER_CONFIRM_SIGN": ChannelInterceptStatus.seller_confirmed_sign,  # 拦截卖家确认签收
}

#: TMC topics (tmc.js ``types/taobao.d.ts``) onto what they say happened.
TOPICS: Mapping[str, MessageKind] = {
    "taobao_refund_RefundCreated": MessageKind.created,
    "taobao_refund_RefundBuyerModifyAgreement": MessageKind.modified,
    "taobao_refund_RefundSellerAgreeAgreement": MessageKind.refund_agreed,
    "taobao_refund_RefundSuccess": MessageKind.refund_succeeded,
    "taobao_refund_RefundSellerRefuseAgreement": MessageKind.refused,
    "taobao_refund_RefundClosed": MessageKind.closed,
    "taobao_refund_RefundBuyerReturnGoods": MessageKind.return_shipped,
    "taobao_refund_TaobaoInterApplied": MessageKind.arbitration,  # 申请淘宝介入
    "taobao_refund_TaobaoIntervened": MessageKind.arbitration,  # 淘宝介入
}

#: The arbitration state an arbitration topic announces.
TOPIC_ARBITRATION: Mapping[str, ArbitrationStatus] = {
    "taobao_refund_TaobaoInterApplied": ArbitrationStatus.requested,
    "taobao_refund_TaobaoIntervened": ArbitrationStatus.in_review,
}

#: The operation in ``allowed_operations`` that lets the seller commit to intercept (拦截包裹).
INTERCEPT_OPERATION = "APPLY_DELIVERY_INTERCEPT_V2"

#: Top-level ``error_response.code`` of the TOP gateway (platform errors, before any business logic).
PLATFORM_ERRORS: Mapping[str, RejectionKind] = {
    "3": RejectionKind.retry,  # upload fail
    "7": RejectionKind.retry,  # App Call Limited: the app's quota for now is spent
    "8": RejectionKind.retry,  # API call limited
    "9": RejectionKind.invalid,  # HTTP action not allowed
    "10": RejectionKind.retry,  # Service currently unavailable
    "11": RejectionKind.auth,  # Insufficient ISV permissions
    "12": RejectionKind.auth,  # Insufficient user permissions
    "13": RejectionKind.auth,  # Insufficient partner permissions
    "21": RejectionKind.invalid,  # Missing method
    "22": RejectionKind.invalid,  # Invalid method
    "23": RejectionKind.invalid,  # Invalid format
    "24": RejectionKind.invalid,  # Missing signature
    "25": RejectionKind.auth,  # Invalid signature: the app secret is wrong
    "26": RejectionKind.auth,  # Missing session
    "27": RejectionKind.auth,  # Invalid session: the shop must authorise again
    "28": RejectionKind.auth,  # Missing app key
    "29": RejectionKind.auth,  # Invalid app key
    "30": RejectionKind.invalid,  # Missing timestamp
    "31": RejectionKind.invalid,  # Invalid timestamp (our clock is off by more than 10 minutes)
    "32": RejectionKind.invalid,  # Missing version
    "33": RejectionKind.invalid,  # Invalid version
    "40": RejectionKind.invalid,  # Missing required arguments
    "41": RejectionKind.invalid,  # Invalid arguments
    "47": RejectionKind.invalid,  # Invalid encoding
}

#: ``error_response.sub_code`` of a business error (code 15, "Remote service error").
SUB_CODES: Mapping[str, RejectionKind] = {
    "isv.refund-version-expired": RejectionKind.stale,  # decision: the refund moved since it was read
    "isv.refund-status-not-support": RejectionKind.refused,  # decision: not allowed in the refund's state
    "isv.need-verify-code": RejectionKind.needs_person,  # decision: a large amount needs the seller's SMS code
}

#: Prefixes of sub-codes whose meaning is clear from the family (TOP's naming convention).
SUB_CODE_FAMILIES: tuple[tuple[str, RejectionKind], ...] = (
    ("isp.", RejectionKind.retry),  # the platform's own failure: try again later
    ("isv.invalid-parameter", RejectionKind.invalid),
    ("isv.missing-parameter", RejectionKind.invalid),
)

#: Words that classify a per-refund failure of ``rp.refunds.agree``, whose results carry only a message:
#: the decided sub-code when it is named, else the Chinese the platform's messages use.
ITEM_MESSAGE_HINTS: tuple[tuple[str, RejectionKind], ...] = (
    ("isv.refund-version-expired", RejectionKind.stale),
    ("isv.need-verify-code", RejectionKind.needs_person),
    ("isv.refund-status-not-support", RejectionKind.refused),
    ("验证码", RejectionKind.needs_person),  # verification code
    ("版本", RejectionKind.stale),  # version
)


def status(code: str) -> PlatformStatus:
    """The platform status of a refund ``status``; an unknown value is ``other`` and logged."""
    found = STATUSES.get(code)
    if found is None:
        log.warning("taobao refund status %r is unknown: treated as other", code)
        return PlatformStatus.other
    return found


def arbitration(cs_status: str) -> ArbitrationStatus:
    """The arbitration state of a ``cs_status``; absent is ``none``, unknown is ``none`` and logged."""
    if cs_status == "":
        return ArbitrationStatus.none
    found = CS_STATUSES.get(cs_status)
    if found is None:
        log.warning("taobao cs_status %r is unknown: treated as no arbitration", cs_status)
        return ArbitrationStatus.none
    return found


def intercept_status(code: str) -> ChannelInterceptStatus | None:
    """The intercept state of a ``logisticInterceptEnum``; unknown is None (the platform says nothing) and logged."""
    found = INTERCEPT_STATUSES.get(code)
    if found is None and code:
        log.warning("taobao logisticInterceptEnum %r is unknown: ignored", code)
    return found


def case_type(dispute_type: str, *, has_good_return: bool, order_status: str) -> CaseType:
    """The case type of a refund.

    ``dispute_type`` REFUND (仅退款) is refund-only; whether the goods had shipped comes from the
    trade's ``order_status`` (WAIT_SELLER_SEND_GOODS and earlier: not shipped). When the platform
    does not show ``order_status`` the refund counts as shipped: that is the case lanjie exists for,
    and a wrong guess is harmless, since an unshipped order has no parcel for lanjie to find by ``tid``.
    Older refunds carry no ``dispute_type`` at all: ``has_good_return`` then tells a return from a
    refund-only request, as it did before the field existed.
    """
    fixed = DISPUTE_TYPES.get(dispute_type)
    if fixed is not None:
        return fixed
    if dispute_type not in ("", "REFUND", "OTHERS"):
        log.warning("taobao dispute_type %r is unknown: typed by has_good_return", dispute_type)
    if dispute_type != "REFUND" and has_good_return:
        return CaseType.return_refund
    if order_status in UNSHIPPED_ORDER_STATUSES:
        return CaseType.refund_only_unshipped
    return CaseType.refund_only_shipped


def topic_kind(topic: str) -> MessageKind:
    """What a TMC topic says happened; a topic lanjie does not act on is ``other``."""
    return TOPICS.get(topic, MessageKind.other)


def rejection_kind(code: str, sub_code: str) -> RejectionKind:
    """What an ``error_response`` means for lanjie's next step; unknown business codes are refusals, logged."""
    if sub_code:
        found = SUB_CODES.get(sub_code)
        if found is not None:
            return found
        for prefix, kind in SUB_CODE_FAMILIES:
            if sub_code.startswith(prefix):
                return kind
    platform = PLATFORM_ERRORS.get(code)
    if platform is not None:
        return platform
    if code != "15" or not sub_code.startswith("isv."):
        log.warning("taobao answered an unknown error code %r sub_code %r: treated as refused", code, sub_code)
    return RejectionKind.refused


def item_rejection_kind(message: str) -> RejectionKind:
    """What a failed refund of a batch approval means, from its message (the results carry no code)."""
    for hint, kind in ITEM_MESSAGE_HINTS:
        if hint in message:
            return kind
    return RejectionKind.refused
