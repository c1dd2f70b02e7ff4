"""A claim's page in Chromium: a photo uploaded as evidence appears in the list."""

from __future__ import annotations

import struct
import zlib

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.staging import lost_claim

pytestmark = pytest.mark.slow


def tiny_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A valid PNG of one colour, built by hand (signature, IHDR, IDAT, IEND)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + bytes(rgb) * width  # filter byte 0, then the pixels
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def upload(console: Console, name: str, png: bytes) -> None:
    console.page.set_input_files("#evidence-file", files=[{"name": name, "mimeType": "image/png", "buffer": png}])
    console.page.click("#evidence-upload")


def test_a_photo_uploaded_to_a_claim_appears_in_its_evidence(console: Console) -> None:
    live, page = console.live, console.page
    claim = lost_claim(live, "SF7000000000011", "O-CLAIM-11")  # SF: no claim API, the packet goes by hand
    console.sign_in("agent")
    console.goto(f"/console/claims/{claim['id']}")
    expect(page.locator("h1")).to_contain_text("SF7000000000011")
    message = page.locator("#claim-message")
    evidence = page.locator("#claim-live ul#evidence")
    expect(evidence.locator("li img")).to_have_count(0)

    upload(console, "box.png", tiny_png())  # a photo added to the draft claim
    expect(message).to_have_text("文件已上传。")
    photo = evidence.locator("li img")
    expect(photo).to_have_count(1)
    expect(photo).to_have_attribute("alt", "证据照片 box.png")
    expect(photo).to_have_js_property("naturalWidth", 8)  # the image really loaded from lanjie
    expect(evidence.locator("li")).to_contain_text("补充的证据")
    file_id = evidence.locator("li").get_attribute("data-file-id")
    assert live.client.get(f"/v1/files/{file_id}").content == tiny_png()
    console.shot("claim-evidence-photo")

    page.fill("#claim-carrier-ref", "SFC-011")  # filed by hand, with the carrier's reference
    page.click("#claim-file")
    expect(message).to_have_text("理赔已提交。")
    form = page.locator("form#claim-status")  # the carrier asks for more photos
    form.locator("#claim-status-to").select_option("waiting_on_documents")
    form.locator("#claim-documents").fill("破损照片")
    form.locator("button[type=submit]").click()
    expect(message).to_have_text("已更新。")
    expect(page.locator("#claim-payout-closed")).to_be_visible()  # no payout before an approval
    expect(page.locator("#evidence-as-documents")).to_be_checked()
    upload(console, "label.png", tiny_png(rgb=(40, 40, 200)))  # sent as the documents asked for
    expect(message).to_have_text("文件已上传。")
    expect(evidence.locator("li img")).to_have_count(2)
    expect(evidence.locator("li img[alt='证据照片 label.png']")).to_be_visible()
    current = live.client.get(f"/v1/claims/{claim['id']}").json()
    assert (current["status"], current["filed_via"], current["carrier_ref"]) == ("in_review", "packet", "SFC-011")
