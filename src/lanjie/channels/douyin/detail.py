"""``/afterSale/Detail``'s ``data`` as lanjie's ChannelCase: a pure function over the SDK's structure.

``data.process_info.after_sale_info`` holds the case (``after_sale_id``, ``after_sale_type``,
``after_sale_status``, ``refund_status``, ``refund_total_amount``, ``update_time``, ``status_deadline``,
``reason``); ``process_info.arbitrate_info.arbitrate_status`` the arbitration;
``process_info.logistics_info.order[]`` the forward parcels (``tracking_no``, ``company_code``);
``order_info`` the order (``shop_order_id``, ``sku_order_infos[].pay_amount``). Money is fen, times
Unix seconds (zsmhub/doudian-sdk ``api/afterSale_Detail/response``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lanjie.channels.base import ChannelCase, ChannelParcel
from lanjie.domain.states import ArbitrationStatus

from . import codes
from .wire import PayloadError, id_of, int_of, list_of, object_of, text_of, unix_time


def refund_fen(info: Mapping[str, Any]) -> int:
    """What the buyer asks back: ``refund_total_amount`` (freight included), else ``refund_amount``."""
    if info.get("refund_total_amount") is not None:
        return int_of(info, "refund_total_amount")
    return int_of(info, "refund_amount")


def paid_fen(order: Mapping[str, Any]) -> int | None:
    """What the buyer paid for the SKU orders the case covers; None when the detail lists none.

    ``sku_order_infos`` is the SDK's name; ``related_order_info`` (the name in lanjie's wire notes)
    is read when the first is absent.
    """
    items = list_of(order, "sku_order_infos") if "sku_order_infos" in order else list_of(order, "related_order_info")
    if not items:
        return None
    return sum(int_of(item, "pay_amount") for item in items)


def parcels(logistics: Mapping[str, Any]) -> tuple[ChannelParcel, ...]:
    """The forward parcels (``logistics_info.order[]``) that carry a waybill number."""
    found: list[ChannelParcel] = []
    for item in list_of(logistics, "order"):
        waybill_no = text_of(item, "tracking_no").strip()
        if waybill_no:
            company_code = text_of(item, "company_code").strip()
            found.append(ChannelParcel(waybill_no=waybill_no, company_code=company_code,
                                       courier=codes.courier(company_code)))
    return tuple(found)


def arbitration(process: Mapping[str, Any], info: Mapping[str, Any]) -> ArbitrationStatus:
    """The arbitration of the case: ``arbitrate_info.arbitrate_status``, else the case's own field."""
    arbitrate = object_of(process, "arbitrate_info")
    source = arbitrate if arbitrate.get("arbitrate_status") is not None else info
    return codes.arbitration_status(int_of(source, "arbitrate_status"))


def parse_case(data: Mapping[str, Any]) -> ChannelCase:
    """The case as the detail shows it; PayloadError names the first field that is missing or wrong."""
    process = object_of(data, "process_info", required=True)
    info = object_of(process, "after_sale_info", required=True)
    order = object_of(data, "order_info")
    type_code = int_of(info, "after_sale_type", default=None)
    status_code = int_of(info, "after_sale_status", default=None)
    refund_status = int_of(info, "refund_status")
    update_time = int_of(info, "update_time", default=None)
    if update_time <= 0:
        raise PayloadError(f"update_time is not a time: {update_time}")
    return ChannelCase(
        ref=id_of(info, "after_sale_id"),
        order_id=id_of(order, "shop_order_id", required=False),
        type=codes.case_type(type_code),
        platform_type=str(type_code),
        status=codes.platform_status(status_code, refund_status),
        platform_status=str(status_code),
        refund_fen=refund_fen(info),
        version=str(update_time),
        paid_fen=paid_fen(order),
        deadline_at=unix_time(int_of(info, "status_deadline")),
        arbitration=arbitration(process, info),
        parcels=parcels(object_of(process, "logistics_info")),
        reason=text_of(info, "reason"),
        refunded=refund_status == codes.REFUND_SUCCEEDED,
        updated_at=unix_time(update_time),
        raw=data,
    )
