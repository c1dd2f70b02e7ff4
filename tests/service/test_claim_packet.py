"""The claim packet: JSON exact (schema, fen, ISO UTC times) and the PDF that renders it (text, photos)."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pypdf
import pytest

from lanjie.domain.claims import CarrierContract, Claim, claim_amount
from lanjie.domain.model import AfterSale, Intercept
from lanjie.domain.parcel import Item, Party, Shipment
from lanjie.domain.returns import ReceivedItem, ReturnLeg
from lanjie.domain.states import (
    CaseType,
    ClaimStatus,
    ClaimType,
    Inspection,
    InterceptStatus,
    InterceptType,
    PayoutRule,
    ReturnStatus,
    SettlementPolicy,
    TrackingStatus,
)
from lanjie.files import EvidenceFile
from lanjie.service.claim_packet import packet_json, packet_pdf, yuan
from tests.files.samples import PDF, png

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
PHOTO = png(40, 30)
PHOTO_SHA = hashlib.sha256(PHOTO).hexdigest()
INVOICE_SHA = hashlib.sha256(PDF).hexdigest()


def _inputs() -> tuple[Claim, AfterSale, Shipment, list[EvidenceFile]]:
    shipment = Shipment(
        id="shp_1", shop_id="shop_1", carrier="kuaidi100", carrier_code="zto", waybill_no="ZT7788990011",
        order_id="A-1", items=[Item("CUP-1", "保温杯", 2, 4950), Item("LID-1", "杯盖", 1, 1000)], value_fen=10900,
        freight_fen=800, sender=Party("拦截小店", "057188880000", "杭州市西湖区文三路1号"),
        recipient=Party("王五", "13912345678", "北京市朝阳区建国路2号"), created_at=T0, insured_fen=None,
        tracking_status=TrackingStatus.returned,
        tracking_events=[
            {"at": "2026-11-23T10:00:00+08:00", "status": "returned", "code": "4", "description": "已退签",
             "location": "杭州"},
            {"at": "2026-11-21T01:00:00+00:00", "status": "returning", "code": "6", "description": "快件退回中",
             "location": "上海"}])
    case = AfterSale(
        id="as_1", shop_id="shop_1", order_id="A-1", type=CaseType.refund_only_shipped, refund_fen=10900,
        shipment_ids=["shp_1"], settlement_policy=SettlementPolicy.on_turned_back, created_at=T0, channel="douyin",
        channel_ref="6912345", reason="不想要了",
        intercepts=[
            Intercept(id="ic_1", shop_id="shop_1", aftersale_id="as_1", shipment_id="shp_1",
                      type=InterceptType.return_to_sender, created_at=T0 + timedelta(minutes=1),
                      status=InterceptStatus.succeeded, message="拦截成功", task_id="K100-77",
                      answered_at=T0 + timedelta(minutes=1, seconds=1), outcome_at=T0 + timedelta(hours=20)),
            Intercept(id="ic_other", shop_id="shop_1", aftersale_id="as_1", shipment_id="shp_2",
                      type=InterceptType.return_to_sender, created_at=T0)])
    amount = claim_amount(CarrierContract("kuaidi100"), loss_fen=9900, insured_fen=None, freight_fen=800)
    claim = Claim(
        id="clm_1", shop_id="shop_1", aftersale_id="as_1", return_id="rl_1", shipment_id="shp_1",
        carrier="kuaidi100:zto", waybill_no="ZT7788990011", type=ClaimType.damage, amount_fen=amount.fen,
        basis=amount.basis, filing_deadline_at=T0 + timedelta(days=30), created_at=T0 + timedelta(days=3),
        status=ClaimStatus.draft,
        evidence={
            "tracking": [],
            "intercept_answers": [{"id": 7, "carrier": "kuaidi100", "operation": "intercept", "status_code": 200,
                                   "response_body": '{"result":true,"returnCode":"200"}',
                                   "at": "2026-11-20T16:01:00+08:00"}],
            "inspection": {"result": "damaged", "note": "外箱压坏，杯身凹陷", "photos": ["ef_photo", "ef_invoice"],
                           "items": [{"sku": "CUP-1", "expected": 2, "received": 2}]},
        })
    files = [EvidenceFile("ef_photo", "shop_1", PHOTO_SHA, "image/png", len(PHOTO), "破损.png", "k1", T0),
             EvidenceFile("ef_invoice", "shop_1", INVOICE_SHA, "application/pdf", len(PDF), "发票.pdf", "k2", T0)]
    return claim, case, shipment, files


def test_packet_json_is_versioned_in_fen_and_iso_utc() -> None:
    claim, case, shipment, files = _inputs()
    packet = packet_json(claim, case, shipment, files, generated_at=datetime(2026, 11, 24, 12, 0, tzinfo=CST))
    assert packet == {
        "schema": "lanjie.claim_packet", "schema_version": 1, "generated_at": "2026-11-24T04:00:00+00:00",
        "claim": {
            "id": "clm_1", "type": "damage", "status": "draft", "carrier": "kuaidi100:zto",
            "waybill_no": "ZT7788990011", "amount_fen": 2400,
            "basis": {"rule": "capped_actual_loss", "loss_fen": 9900, "insured_fen": None, "freight_fen": 800,
                      "cap_fen": 2400, "explained": "uninsured: the actual loss, capped at 3× the freight"},
            "created_at": "2026-11-23T08:00:00+00:00", "filing_deadline_at": "2026-12-20T08:00:00+00:00",
            "filed_via": "", "carrier_ref": "", "filed_at": None, "approved_fen": None, "paid_fen": 0,
            "payouts": [], "documents_requested": [], "message": "",
        },
        "case": {"id": "as_1", "order_id": "A-1", "channel": "douyin", "channel_ref": "6912345",
                 "type": "refund_only_shipped", "refund_fen": 10900, "reason": "不想要了",
                 "created_at": "2026-11-20T08:00:00+00:00"},
        "parcel": {
            "id": "shp_1", "carrier": "kuaidi100:zto", "waybill_no": "ZT7788990011", "order_id": "A-1",
            "items": [{"sku": "CUP-1", "name": "保温杯", "qty": 2, "price_fen": 4950, "value_fen": 9900},
                      {"sku": "LID-1", "name": "杯盖", "qty": 1, "price_fen": 1000, "value_fen": 1000}],
            "goods_value_fen": 10900, "value_fen": 10900, "insured_fen": None, "freight_fen": 800,
            "shipped_at": "2026-11-20T08:00:00+00:00",
            "sender": {"name": "拦截小店", "phone": "057188880000", "address": "杭州市西湖区文三路1号"},
            "recipient": {"name": "王五", "phone": "*******5678", "address": "北京市朝阳区建国路2号"},
        },
        "tracking": [
            {"at": "2026-11-23T02:00:00+00:00", "status": "returned", "code": "4", "description": "已退签",
             "location": "杭州"},
            {"at": "2026-11-21T01:00:00+00:00", "status": "returning", "code": "6", "description": "快件退回中",
             "location": "上海"}],
        "intercepts": [{"id": "ic_1", "type": "return_to_sender", "status": "succeeded", "reason": None,
                        "message": "拦截成功", "task_id": "K100-77", "created_at": "2026-11-20T08:01:00+00:00",
                        "answered_at": "2026-11-20T08:01:01+00:00", "outcome_at": "2026-11-21T04:00:00+00:00"}],
        "carrier_answers": [{"carrier": "kuaidi100", "operation": "intercept", "status_code": 200,
                             "at": "2026-11-20T08:01:00+00:00",
                             "response_body": '{"result":true,"returnCode":"200"}'}],
        "inspection": {"result": "damaged", "note": "外箱压坏，杯身凹陷", "photos": ["ef_photo", "ef_invoice"],
                       "items": [{"sku": "CUP-1", "expected": 2, "received": 2}]},
        "files": [{"id": "ef_photo", "name": "破损.png", "media_type": "image/png", "size": len(PHOTO),
                   "sha256": PHOTO_SHA},
                  {"id": "ef_invoice", "name": "发票.pdf", "media_type": "application/pdf", "size": len(PDF),
                   "sha256": INVOICE_SHA}],
        "statement": {
            "zh": "本人代表拦截小店确认：运单 ZT7788990011 的包裹在拦截成功后退回途中破损；"
                  "以上信息及所附材料真实、完整。"
                  "依据双方约定（uninsured: the actual loss, capped at 3× the freight），申请赔付 ¥24.00。",
            "en": "On behalf of 拦截小店, I confirm that parcel ZT7788990011 was damaged on its way back after a "
                  "successful interception, and that the information and evidence attached are true and complete. "
                  "Under our terms (uninsured: the actual loss, capped at 3× the freight) we claim ¥24.00.",
        },
    }


def test_an_inspection_recorded_after_the_draft_comes_from_the_return_leg() -> None:
    claim, case, shipment, files = _inputs()
    leg = ReturnLeg(id="rl_1", shop_id="shop_1", aftersale_id="as_1", shipment_id="shp_1",
                    waybill_no="ZT7788990011", started_at=T0, status=ReturnStatus.received,
                    inspection=Inspection.short, inspection_note="少一个杯盖",
                    items=[ReceivedItem("LID-1", 1, 0)], photos=["ef_photo"])
    packet = packet_json(claim, case, shipment, files, generated_at=T0, leg=leg)
    assert packet["inspection"] == {"result": "short", "note": "少一个杯盖", "photos": ["ef_photo"],
                                    "items": [{"sku": "LID-1", "expected": 1, "received": 0}]}


def test_an_insured_parcel_packet_carries_the_insured_rule_and_amount() -> None:
    claim, case, shipment, files = _inputs()
    shipment.insured_fen = 5000
    amount = claim_amount(CarrierContract("kuaidi100"), loss_fen=9900, insured_fen=5000, freight_fen=800)
    claim.amount_fen, claim.basis = amount.fen, amount.basis
    packet = packet_json(claim, case, shipment, files, generated_at=T0)
    assert (packet["claim"]["amount_fen"], packet["claim"]["basis"]["rule"], packet["parcel"]["insured_fen"]) == (
        5000, PayoutRule.insured_value.value, 5000)


@pytest.mark.parametrize(("fen", "text"), [(0, "¥0.00"), (5, "¥0.05"), (2400, "¥24.00"), (123456, "¥1234.56"),
                                           (-150, "-¥1.50"), (None, "—")])
def test_yuan_shows_fen_as_yuan_with_two_decimals(fen: int | None, text: str) -> None:
    assert yuan(fen) == text


# --------------------------------------------------------------------------- the PDF
def _literal(raw: bytes) -> bytes:
    """A PDF literal string's bytes, its escapes undone."""
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i] != 0x5C:
            out.append(raw[i])
            i += 1
            continue
        octal = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
        if octal:
            out.append(int(octal.group(), 8) & 0xFF)
            i += 1 + len(octal.group())
        else:
            out += {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t"}.get(raw[i + 1], raw[i + 1:i + 2])
            i += 2
    return bytes(out)


def _raw_text(pdf: bytes) -> str:
    """The text shown by every content stream (reportlab's ASCII85+Flate streams, CID text in UTF-16BE)."""
    shown = []
    for stream in re.findall(rb"/ASCII85Decode /FlateDecode \][^>]*>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        content = zlib.decompress(base64.a85decode(stream.strip(), adobe=True))
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", content, re.S):
            data = _literal(literal)
            shown.append(data.decode("utf-16-be") if len(data) % 2 == 0 and data[:1] == b"\x00" or
                         any(b >= 0x80 for b in data) else data.decode("latin-1"))
    return "\n".join(shown)


def _pdf(**changes: object) -> bytes:
    claim, case, shipment, files = _inputs()
    contents = {"ef_photo": PHOTO, **changes}  # type: ignore[dict-item]
    return packet_pdf(claim, case, shipment, files, contents=contents, generated_at=T0)  # type: ignore[arg-type]


def test_packet_pdf_is_a_pdf_holding_the_waybill_amount_and_chinese_text() -> None:
    pdf = _pdf()
    assert pdf.startswith(b"%PDF-")
    text = _raw_text(pdf)
    for expected in ("ZT7788990011", "¥24.00 (2400 fen)", "快递理赔申请 / Carrier claim", "保温杯",
                     "uninsured: the actual loss, capped at 3× the freight", "快件退回中", "拦截成功",
                     "外箱压坏，杯身凹陷", "发票.pdf", "声明 / Statement"):
        assert expected in text, expected
    assert b"/BaseFont /STSong-Light" in pdf  # reportlab's built-in CID font: no font file embedded
    extracted = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "ZT7788990011" in extracted and "¥24.00 (2400 fen)" in extracted


def test_packet_pdf_embeds_the_photo_and_lists_the_document() -> None:
    pdf = _pdf()
    assert pdf.count(b"/Subtype /Image") == 1
    assert re.search(rb"/Height 30 /Length \d+ /Subtype /Image\s+/Type /XObject /Width 40", pdf)
    assert f"sha256 {INVOICE_SHA}" in _raw_text(pdf)


def test_a_photo_that_does_not_decode_is_named_not_embedded_and_the_packet_still_renders() -> None:
    pdf = _pdf(ef_photo=b"\x89PNG\r\n\x1a\n truncated")
    assert pdf.count(b"/Subtype /Image") == 0
    assert "破损.png | image/png" in _raw_text(pdf)
    assert "could not be rendered" in _raw_text(pdf)


def test_the_same_packet_renders_to_the_same_bytes() -> None:
    assert _pdf() == _pdf()
