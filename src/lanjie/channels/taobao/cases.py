"""Reading a refund: ``taobao.refund.get`` plus ``taobao.refund.detail.get`` into a ChannelCase, pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lanjie.channels.base import ChannelCase
from lanjie.domain.states import PlatformStatus

from . import attribute, codes, wire

#: What lanjie asks ``taobao.refund.get`` for (``order_status`` tells a shipped refund from an unshipped one).
REFUND_FIELDS = ("refund_id,tid,oid,status,order_status,dispute_type,good_status,has_good_return,refund_fee,payment,"
                 "total_fee,refund_version,refund_phase,cs_status,attribute,created,modified,refund_remind_timeout,"
                 "reason,desc,title,num,sid,company_name,operation_contraint")
#: What ``taobao.refund.detail.get`` is asked for (its own spelling of the field).
DETAIL_FIELDS = "allowedOperations,refund_version"


def refund_of(content: Mapping[str, Any]) -> dict[str, Any]:
    """The ``refund`` object of a ``refund_get_response``."""
    refund = content.get("refund")
    if not isinstance(refund, dict):
        raise wire.PayloadError("refund_get_response has no refund")
    return refund


def operation_codes(value: Any) -> tuple[str, ...]:
    """The operation codes of an ``allowed_operations`` value, whatever TOP's list wrapping.

    wire.md's shape is ``{"string": ["APPLY_DELIVERY_INTERCEPT_V2", …]}``; the SDK metadata describes
    ``Operation[]`` objects with ``operation_code``, which JSON wraps as ``{"operation": [...]}``. Both read.
    """
    if isinstance(value, Mapping):
        found: list[str] = []
        for inner in value.values():
            found.extend(operation_codes(inner))
        return tuple(found)
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, Mapping) and item.get("operation_code"):
                out.append(str(item["operation_code"]))
        return tuple(out)
    if isinstance(value, str) and value:
        return tuple(code.strip() for code in value.split(",") if code.strip())
    return ()


def detail_of(content: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """(refund_version, allowed operation codes) of a ``refund_detail_get_response`` (``detail`` wrapper or not)."""
    detail = content.get("detail")
    node: Mapping[str, Any] = detail if isinstance(detail, Mapping) else content
    return wire.text_of(node, "refund_version"), operation_codes(node.get("allowed_operations"))


def deadline_of(refund: Mapping[str, Any]) -> datetime | None:
    """When the platform acts by itself: ``refund_remind_timeout.timeout`` while ``exist_timeout`` holds."""
    remind = refund.get("refund_remind_timeout")
    if not isinstance(remind, Mapping) or not wire.flag_of(remind, "exist_timeout"):
        return None
    timeout = wire.text_of(remind, "timeout")
    return wire.beijing_to_utc(timeout, "refund_remind_timeout.timeout") if timeout else None


def case_of(refund: Mapping[str, Any], allowed_operations: tuple[str, ...]) -> ChannelCase:
    """The ChannelCase of a refund as ``refund.get`` shows it and the operations ``refund.detail.get`` allows."""
    ref, version = wire.text_of(refund, "refund_id"), wire.text_of(refund, "refund_version")
    if not ref or not version:
        raise wire.PayloadError("the refund has no refund_id or no refund_version")
    status_code = wire.text_of(refund, "status")
    dispute_type = wire.text_of(refund, "dispute_type")
    case_type = codes.case_type(dispute_type, has_good_return=wire.flag_of(refund, "has_good_return"),
                                order_status=wire.text_of(refund, "order_status"))
    payment = wire.text_of(refund, "payment")
    modified = wire.text_of(refund, "modified")
    items = attribute.intercept_items(wire.text_of(refund, "attribute"))
    status = codes.status(status_code)
    return ChannelCase(
        ref=ref,
        order_id=wire.text_of(refund, "tid"),
        type=case_type,
        platform_type=dispute_type or ("REFUND_AND_RETURN" if wire.flag_of(refund, "has_good_return") else "REFUND"),
        status=status,
        platform_status=status_code,
        refund_fen=wire.yuan_to_fen(wire.text_of(refund, "refund_fee"), "refund_fee"),
        version=version,
        # refund.get's ``payment`` (支付给卖家的金额): what the buyer paid that the seller still holds.
        paid_fen=wire.yuan_to_fen(payment, "payment") if payment else None,
        deadline_at=deadline_of(refund),
        arbitration=codes.arbitration(wire.text_of(refund, "cs_status")),
        parcels=(),  # a refund names no forward waybill: lanjie finds the parcels by order id (tid)
        reason=wire.text_of(refund, "reason"),
        intercept_status=attribute.intercept_status(items, wire.text_of(refund, "oid")),
        can_commit_intercept=codes.INTERCEPT_OPERATION in allowed_operations,
        refunded=status is PlatformStatus.refunded,
        updated_at=wire.beijing_to_utc(modified, "modified") if modified else None,
        raw={**refund, "allowed_operations": list(allowed_operations),
             "intercept_items": [{"sub_order_id": item.sub_order_id, "code": item.code,
                                  "auto_intercept_agree": item.auto_intercept_agree} for item in items]},
    )
