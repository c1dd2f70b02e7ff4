"""Evidence file limits: the type comes from the bytes, the size from the setting."""

from __future__ import annotations

import hashlib

import pytest

from lanjie.files import accept
from lanjie.files.limits import EmptyFile, FileTooLarge, UnsupportedType, check, clean_name, sniff
from tests.files.samples import JPEG, PDF, WEBP, png


@pytest.mark.parametrize(("data", "media_type"), [
    (JPEG, "image/jpeg"), (png(), "image/png"), (WEBP, "image/webp"), (PDF, "application/pdf")])
def test_allowed_formats_are_recognised_by_their_magic_bytes(data: bytes, media_type: str) -> None:
    assert sniff(data) == media_type
    assert check(data, max_bytes=1024) == media_type


def test_a_png_named_pdf_and_sent_as_pdf_is_stored_as_png() -> None:
    upload = accept(png(), name="invoice.pdf", declared="application/pdf", max_bytes=1024)
    assert (upload.media_type, upload.name, upload.sha256) == ("image/png", "invoice.pdf",
                                                                hashlib.sha256(png()).hexdigest())


@pytest.mark.parametrize("data", [
    b"<html><script>alert(1)</script></html>", b"GIF89a\x01\x00\x01\x00", b"RIFF\x00\x00\x00\x00WAVEfmt ",
    b"PK\x03\x04zip", b"  %PDF-1.4 not at the start", b"\xff\xd8"])
def test_content_that_is_no_allowed_format_is_refused_whatever_it_claims(data: bytes) -> None:
    with pytest.raises(UnsupportedType) as refused:
        accept(data, name="photo.jpg", declared="image/jpeg")
    assert refused.value.limit == "media_type"
    assert refused.value.declared == "image/jpeg"


def test_a_file_over_the_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(FileTooLarge) as refused:
        check(PDF + b"x" * 100, max_bytes=100)
    assert (refused.value.limit, refused.value.max_bytes, refused.value.size) == ("max_bytes", 100, len(PDF) + 100)


def test_a_file_of_exactly_the_limit_is_accepted() -> None:
    data = PDF + b"x" * (200 - len(PDF))
    assert check(data, max_bytes=200) == "application/pdf"


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(EmptyFile) as refused:
        check(b"", max_bytes=100)
    assert refused.value.limit == "empty"


@pytest.mark.parametrize(("given", "kept"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\破损.jpg", "破损.jpg"), ("a\x00b\nc.png", "abc.png"),
    ("..", ""), ("x" * 300 + ".png", "x" * 200), ("  photo 1.jpg ", "photo 1.jpg")])
def test_file_names_keep_only_a_clean_last_part(given: str, kept: str) -> None:
    assert clean_name(given) == kept
