"""The evidence pack of a disputed case: what the merchant hands the platform's arbitration.

Everything comes from lanjie's own records, verbatim: the parcels' tracking histories, every carrier
exchange about the intercept (requests and answers, secrets redacted), the refund records and the
rule decisions, plus a short statement in Chinese and English that cites them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lanjie.domain.model import AfterSale, Shipment


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def statement(case: AfterSale, parcels: list[Shipment], lang: str) -> str:
    """A short statement of what happened, citing the records in the pack."""
    waybills = ", ".join(f"{s.waybill_no} ({s.carrier_code})" for s in parcels) or "-"
    intercepts = [i for i in case.intercepts if i.answered_at is not None]
    refund = case.live_refund
    if lang == "zh-CN":
        parts = [f"售后单 {case.channel_ref or case.id}（订单 {case.order_id}），申请退款 {_yuan(case.refund_fen)}。",
                 f"包裹：{waybills}。"]
        for i in intercepts:
            parts.append(f"{i.answered_at:%Y-%m-%d %H:%M} UTC 已向快递公司发起拦截（{i.type}），"
                         f"快递公司答复：{i.status}{'，任务号 ' + i.task_id if i.task_id else ''}"
                         f"{'，原因 ' + i.reason if i.reason else ''}。")
        if refund is not None:
            parts.append(f"退款 {refund.refund_no}：{_yuan(refund.amount_fen)}，状态 {refund.status}。")
        parts.append("附：物流轨迹、快递公司原始答复、退款记录。")
        return "".join(parts)
    parts = [f"After-sale {case.channel_ref or case.id} (order {case.order_id}) asks {_yuan(case.refund_fen)} back.",
             f"Parcels: {waybills}."]
    for i in intercepts:
        parts.append(f"On {i.answered_at:%Y-%m-%d %H:%M} UTC the carrier was asked to intercept ({i.type}) and "
                     f"answered {i.status}{' with task ' + i.task_id if i.task_id else ''}"
                     f"{', reason ' + i.reason if i.reason else ''}.")
    if refund is not None:
        parts.append(f"Refund {refund.refund_no}: {_yuan(refund.amount_fen)}, {refund.status}.")
    parts.append("Attached: tracking history, the carrier's own answers, the refund records.")
    return " ".join(parts)


def pack(case: AfterSale, parcels: list[Shipment], *, timeline: list[dict[str, Any]],
         exchanges: list[dict[str, Any]], decisions: list[dict[str, Any]], refunds: list[dict[str, Any]],
         now: datetime) -> dict[str, Any]:
    """The pack itself (the views render each part as the API does elsewhere)."""
    answers = [x for x in exchanges if not x["carrier"].startswith("channel:")
               and ("intercept" in x["operation"].lower() or x["operation"] == "precheck")]
    return {
        "aftersale_id": case.id, "generated_at": now.isoformat(),
        "summary": {"zh-CN": statement(case, parcels, "zh-CN"), "en": statement(case, parcels, "en")},
        "case": {"id": case.id, "channel": case.channel, "channel_ref": case.channel_ref, "order_id": case.order_id,
                 "type": case.type, "status": case.status, "refund_fen": case.refund_fen,
                 "arbitration": case.arbitration, "resolution": case.resolution,
                 "created_at": case.created_at.isoformat()},
        "parcels": [{"waybill_no": s.waybill_no, "carrier": f"{s.carrier}:{s.carrier_code}",
                     "tracking_status": s.tracking_status, "tracking_events": s.tracking_events,
                     "items": [{"sku": i.sku, "name": i.name, "qty": i.qty, "price_fen": i.price_fen} for i in s.items],
                     "value_fen": s.value_fen} for s in parcels],
        "intercept_answers": answers, "refunds": refunds, "decisions": decisions, "timeline": timeline,
        "platform_exchanges": [x for x in exchanges if x["carrier"].startswith("channel:")],
    }
