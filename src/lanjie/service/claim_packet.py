"""The claim packet: what a person sends a carrier that has no claim API (理赔材料), as a PDF and as JSON.

``packet_json`` is the packet itself — versioned, every amount in fen, every time ISO 8601 UTC — and
``packet_pdf`` renders that same dict, so the two never disagree. The PDF holds the claim and how its
amount was worked out, the order's items and values, insured value and freight, the tracking history,
the carrier's intercept answers, the warehouse inspection with its photos embedded, and a statement
to sign; headings are bilingual (中文 / English) and Chinese renders with reportlab's built-in CID font
``STSong-Light``, so no font file ships with lanjie.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa

from lanjie.domain.claims import Claim
from lanjie.domain.errors import NotFound
from lanjie.domain.model import AfterSale, Shipment
from lanjie.domain.parcel import Party
from lanjie.domain.returns import ReturnLeg
from lanjie.files import IMAGE_TYPES, EvidenceFile, FileStore, files_of
from lanjie.store import repository
from lanjie.store import returns as store

SCHEMA = "lanjie.claim_packet"
SCHEMA_VERSION = 1
FONT = "STSong-Light"
_KIND = {"loss": ("丢失", "lost"), "damage": ("破损", "damaged"), "short": ("短少", "short of items")}


def _iso(value: datetime | str | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        at = value
    else:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value  # a carrier's own time text, kept as it came
    return at.astimezone(UTC).isoformat() if at.tzinfo else at.replace(tzinfo=UTC).isoformat()


def _plain(value: Any) -> Any:
    """JSON-ready: enums as their value, times as ISO UTC."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _party(p: Party, *, mask: bool) -> dict[str, str]:
    phone = ("*" * max(0, len(p.phone) - 4)) + p.phone[-4:] if mask else p.phone
    return {"name": p.name, "phone": phone, "address": p.address}


def yuan(fen: int | None) -> str:
    """Fen as the carrier reads it: ¥123.45."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def packet_json(claim: Claim, case: AfterSale, shipment: Shipment, files: Sequence[EvidenceFile], *,
                generated_at: datetime, leg: ReturnLeg | None = None) -> dict[str, Any]:
    """The claim packet as data; ``leg`` (when given) supplies an inspection newer than the claim's draft."""
    evidence = claim.evidence
    inspection = dict(evidence.get("inspection") or {})
    if leg is not None and leg.inspection is not None:
        inspection = {"result": leg.inspection, "note": leg.inspection_note, "photos": list(leg.photos),
                      "items": [{"sku": i.sku, "expected": i.expected, "received": i.received} for i in leg.items]}
    kind_zh, kind_en = _KIND.get(str(claim.type), (str(claim.type), str(claim.type)))
    sender = shipment.sender.name
    basis = _plain(claim.basis)
    explained = basis.get("explained", "")
    statement = {
        "zh": f"本人代表{sender}确认：运单 {claim.waybill_no} 的包裹在拦截成功后退回途中{kind_zh}；以上信息及所附材料"
              f"真实、完整。依据双方约定（{explained}），申请赔付 {yuan(claim.amount_fen)}。",
        "en": f"On behalf of {sender}, I confirm that parcel {claim.waybill_no} was {kind_en} on its way back after "
              f"a successful interception, and that the information and evidence attached are true and complete. "
              f"Under our terms ({explained}) we claim {yuan(claim.amount_fen)}.",
    }
    packet: dict[str, Any] = _plain({
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated_at": generated_at,
        "claim": {
            "id": claim.id, "type": claim.type, "status": claim.status, "carrier": claim.carrier,
            "waybill_no": claim.waybill_no, "amount_fen": claim.amount_fen, "basis": basis,
            "created_at": claim.created_at, "filing_deadline_at": claim.filing_deadline_at,
            "filed_via": claim.filed_via, "carrier_ref": claim.carrier_ref, "filed_at": claim.filed_at,
            "approved_fen": claim.approved_fen, "paid_fen": claim.paid_fen, "payouts": claim.payouts,
            "documents_requested": claim.documents_requested, "message": claim.message,
        },
        "case": {"id": case.id, "order_id": case.order_id, "channel": case.channel, "channel_ref": case.channel_ref,
                 "type": case.type, "refund_fen": case.refund_fen, "reason": case.reason,
                 "created_at": case.created_at},
        "parcel": {
            "id": shipment.id, "carrier": f"{shipment.carrier}:{shipment.carrier_code}",
            "waybill_no": shipment.waybill_no, "order_id": shipment.order_id,
            "items": [{"sku": i.sku, "name": i.name, "qty": i.qty, "price_fen": i.price_fen,
                       "value_fen": i.qty * i.price_fen} for i in shipment.items],
            "goods_value_fen": sum(i.qty * i.price_fen for i in shipment.items),
            "value_fen": shipment.value_fen, "insured_fen": shipment.insured_fen,
            "freight_fen": shipment.freight_fen, "shipped_at": shipment.created_at,
            # The sender is the shop itself; the buyer's phone is masked, the carrier has it on the waybill.
            "sender": _party(shipment.sender, mask=False), "recipient": _party(shipment.recipient, mask=True),
        },
        "tracking": [{"at": _iso(e.get("at")), "status": e.get("status", ""), "code": e.get("code", ""),
                      "description": e.get("description", ""), "location": e.get("location", "")}
                     for e in (shipment.tracking_events or evidence.get("tracking") or [])],
        "intercepts": [{"id": i.id, "type": i.type, "status": i.status, "reason": i.reason, "message": i.message,
                        "task_id": i.task_id, "created_at": i.created_at, "answered_at": i.answered_at,
                        "outcome_at": i.outcome_at}
                       for i in case.intercepts if i.shipment_id == shipment.id],
        "carrier_answers": [{"carrier": a.get("carrier", ""), "operation": a.get("operation", ""),
                             "status_code": a.get("status_code"), "at": _iso(a.get("at")),
                             "response_body": a.get("response_body", "")}
                            for a in evidence.get("intercept_answers") or []],
        "inspection": {"result": inspection.get("result"), "note": inspection.get("note", ""),
                       "items": inspection.get("items", []), "photos": inspection.get("photos", [])},
        "files": [{"id": f.id, "name": f.name, "media_type": f.media_type, "size": f.size, "sha256": f.sha256}
                  for f in files],
        "statement": statement,
    })
    return packet


def packet_pdf(claim: Claim, case: AfterSale, shipment: Shipment, files: Sequence[EvidenceFile], *,
               contents: Mapping[str, bytes], generated_at: datetime, leg: ReturnLeg | None = None) -> bytes:
    """The claim packet as a PDF; ``contents`` holds the bytes of the image files (by file id) to embed."""
    return render_pdf(packet_json(claim, case, shipment, files, generated_at=generated_at, leg=leg), contents)


# --------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class PacketInputs:
    claim: Claim
    case: AfterSale
    shipment: Shipment
    leg: ReturnLeg | None
    files: list[EvidenceFile]


def load(conn: sa.Connection, *, shop_id: str, claim_id: str) -> PacketInputs:
    """Everything a claim's packet is made of, read for the shop (NotFound for another shop's claim)."""
    found = store.get_claim(conn, shop_id=shop_id, claim_id=claim_id)
    if found is None:
        raise NotFound("claim", claim_id)
    claim = found[0]
    case = repository.get_case(conn, shop_id=shop_id, case_id=claim.aftersale_id)
    shipment = repository.get_shipment(conn, shop_id=shop_id, shipment_id=claim.shipment_id)
    if case is None or shipment is None:
        raise NotFound("claim", claim_id)
    leg = store.get_leg(conn, shop_id=shop_id, leg_id=claim.return_id)
    photos = [*(claim.evidence.get("inspection") or {}).get("photos", []), *(leg.photos if leg else []),
              *(f["file_id"] for f in claim.evidence.get("files", []))]
    return PacketInputs(claim, case, shipment, leg, files_of(conn, shop_id=shop_id, ids=photos))


def image_contents(file_store: FileStore, files: Sequence[EvidenceFile]) -> dict[str, bytes]:
    """The bytes of the image files, to embed in the PDF (documents are listed, not embedded)."""
    return {f.id: file_store.read(f.storage_key) for f in files if f.media_type in IMAGE_TYPES}


# --------------------------------------------------------------------------- the PDF
_MAX_CELL = 600  # characters of a carrier's raw answer shown in the PDF (the JSON holds all of it)


def render_pdf(packet: Mapping[str, Any], contents: Mapping[str, bytes]) -> bytes:
    """The PDF of a packet made by ``packet_json``; images of ``contents`` (file id → bytes) are embedded."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13, wordWrap="CJK")
    latin = ParagraphStyle("latin", parent=body, wordWrap=None)  # English breaks between words, not inside them
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=11)
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=22, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=body, fontSize=11, leading=16, spaceBefore=10, spaceAfter=4)
    claim, parcel = packet["claim"], packet["parcel"]
    width = A4[0] - 36 * mm
    story: list[Any] = []

    def text(value: Any, style: ParagraphStyle = cell) -> Any:
        return Paragraph(escape("" if value is None else str(value)).replace("\n", "<br/>"), style)

    def heading(zh: str, en: str) -> None:
        story.append(Paragraph(f"{zh} / {escape(en)}", h2))

    def table(rows: list[list[Any]], widths: Sequence[float], *, header: bool = True) -> None:
        if header and len(rows) == 1:
            rows = [*rows, [text("—")] + [text("") for _ in rows[0][1:]]]
        t = Table([[c if not isinstance(c, str) else text(c) for c in row] for row in rows],
                  colWidths=[w * width for w in widths], repeatRows=1 if header else 0)
        style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
        t.setStyle(TableStyle(style))
        story.append(t)

    basis = claim["basis"]
    worked = "; ".join(f"{k} = {yuan(v) if k.endswith('_fen') else v}" for k, v in basis.items() if k != "explained")
    kind_zh, kind_en = _KIND.get(claim["type"], (claim["type"], claim["type"]))
    story.append(Paragraph("快递理赔申请 / Carrier claim", h1))
    table([
        ["承运商 / Carrier", claim["carrier"]],
        ["运单号 / Waybill", claim["waybill_no"]],
        ["理赔类型 / Claim type", f"{kind_zh} / {claim['type']}"],
        ["申请金额 / Amount claimed", f"{yuan(claim['amount_fen'])} ({claim['amount_fen']} fen)"],
        ["计算依据 / How it was worked out", f"{basis.get('explained', '')}\n{worked}"],
        ["订单 / Order", f"{packet['case']['order_id']} ({packet['case']['channel']})"],
        ["售后单 / Case", packet["case"]["id"]],
        ["理赔单 / Claim", claim["id"]],
        ["提交期限 / File by", claim["filing_deadline_at"]],
    ], (0.3, 0.7), header=False)

    heading("订单商品", "Order items")
    table([["SKU", "名称 / Name", "数量 / Qty", "单价 / Price", "金额 / Value"]]
          + [[i["sku"], i["name"], str(i["qty"]), yuan(i["price_fen"]), yuan(i["value_fen"])]
             for i in parcel["items"]], (0.18, 0.4, 0.1, 0.16, 0.16))

    heading("保价与运费", "Insured value and freight")
    sender = parcel["sender"]
    table([["货值 / Goods value", yuan(parcel["goods_value_fen"])],
           ["保价 / Insured value", yuan(parcel["insured_fen"]) if parcel["insured_fen"] else "未保价 / not insured"],
           ["运费 / Freight", yuan(parcel["freight_fen"])],
           ["寄件人 / Sender", f"{sender['name']} {sender['phone']}\n{sender['address']}"],
           ["发货时间 / Shipped", parcel["shipped_at"]]], (0.3, 0.7), header=False)

    heading("物流轨迹", "Tracking history")
    table([["时间 / Time", "状态 / Status", "代码 / Code", "描述 / Description", "地点 / Location"]]
          + [[e["at"], e["status"], e["code"], e["description"], e["location"]] for e in packet["tracking"]],
          (0.22, 0.13, 0.12, 0.37, 0.16))

    heading("拦截记录", "Intercept answers")
    table([["时间 / Time", "状态 / Status", "原因 / Reason", "快递公司答复 / Carrier's message"]]
          + [[i["answered_at"] or i["created_at"], i["status"], i["reason"] or "", i["message"]]
             for i in packet["intercepts"]], (0.22, 0.16, 0.18, 0.44))
    if packet["carrier_answers"]:
        story.append(Spacer(1, 4))
        table([["时间 / Time", "操作 / Operation", "HTTP", "原始答复 / Raw answer"]]
              + [[a["at"], a["operation"], str(a["status_code"] or ""), str(a["response_body"])[:_MAX_CELL]]
                 for a in packet["carrier_answers"]], (0.22, 0.16, 0.08, 0.54))

    inspection = packet["inspection"]
    heading("验货结果", "Inspection")
    table([["结果 / Result", inspection["result"] or "未验货 / not inspected"],
           ["备注 / Note", inspection["note"]]], (0.3, 0.7), header=False)
    if inspection["items"]:
        story.append(Spacer(1, 4))
        table([["SKU", "应收 / Expected", "实收 / Received"]]
              + [[i["sku"], str(i["expected"]), str(i["received"])] for i in inspection["items"]], (0.5, 0.25, 0.25))

    heading("照片与附件", "Photos and documents")
    for f in packet["files"]:
        caption = f"{f['name'] or f['id']} | {f['media_type']} | {f['size']} bytes | sha256 {f['sha256']}"
        data = contents.get(f["id"])
        if data is not None and f["media_type"] in IMAGE_TYPES:
            try:
                w, h = ImageReader(io.BytesIO(data)).getSize()
                scale = min(width / w, 100 * mm / h, 1.0)
                story.append(Image(io.BytesIO(data), width=w * scale, height=h * scale, hAlign="LEFT"))
            except Exception:  # bytes that pass the type sniffing but do not decode: say so, keep the packet
                caption += " | 无法显示 / could not be rendered"
        story.append(text(caption))
        story.append(Spacer(1, 6))
    if not packet["files"]:
        story.append(text("无 / none"))

    heading("声明", "Statement")
    story += [text(packet["statement"]["zh"], body), Spacer(1, 4), text(packet["statement"]["en"], latin),
              Spacer(1, 24), text("签字 / Signature: ______________________    日期 / Date: ______________", body)]

    footer = f"lanjie {SCHEMA} v{SCHEMA_VERSION} | {claim['id']} | {packet['generated_at']}"

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.setFont(FONT, 7)
        canvas.drawString(18 * mm, 10 * mm, f"{footer} | {doc.page}")

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=18 * mm, title=f"Claim {claim['waybill_no']}", author="lanjie",
                            subject=f"{claim['type']} claim {claim['id']}", invariant=True)
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
