"""What an evidence file may be: its type sniffed from its own bytes, its size within a limit.

The client's ``Content-Type`` and file name are never trusted for the type: a PNG named ``.pdf`` is a PNG,
and bytes that are none of the allowed formats are refused whatever they claim to be.

    FileRejected
    ├── EmptyFile          no bytes at all
    ├── FileTooLarge       more than the limit (names it)
    └── UnsupportedType    not JPEG, PNG, WebP or PDF by its magic bytes (names the allowed types)
"""

from __future__ import annotations

import unicodedata

#: The formats an evidence file may have: photos of the parcel and documents (invoices, forms).
ALLOWED_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
NAME_MAX = 200


class FileRejected(Exception):
    """An upload the limits refuse; ``limit`` names which one."""

    limit = "file"


class EmptyFile(FileRejected):
    limit = "empty"

    def __init__(self) -> None:
        super().__init__("the file is empty")


class FileTooLarge(FileRejected):
    limit = "max_bytes"

    def __init__(self, max_bytes: int, size: int | None = None) -> None:
        told = f" ({size} bytes)" if size is not None else ""
        super().__init__(f"the file is larger than {max_bytes} bytes{told}")
        self.max_bytes, self.size = max_bytes, size


class UnsupportedType(FileRejected):
    limit = "media_type"

    def __init__(self, declared: str = "") -> None:
        said = f" (it was sent as {declared!r})" if declared else ""
        super().__init__(f"the file's content is none of {', '.join(ALLOWED_TYPES)}{said}")
        self.declared = declared


def sniff(data: bytes) -> str | None:
    """The media type the bytes themselves show (their magic numbers), or None when not an allowed one."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    # The PDF header may legally sit anywhere in the first 1 KiB; lanjie asks for it first, as every
    # producer writes it, so a polyglot file cannot pass as a PDF.
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, declared: str = "") -> str:
    """The sniffed media type of an acceptable file; FileRejected otherwise."""
    if not data:
        raise EmptyFile()
    if len(data) > max_bytes:
        raise FileTooLarge(max_bytes, len(data))
    media_type = sniff(data)
    if media_type is None:
        raise UnsupportedType(declared)
    return media_type


def clean_name(name: str) -> str:
    """A file name fit to keep and show: its last path part, without control characters, at most 200 characters.

    The name is only a label: where the bytes are stored comes from their hash, never from the name.
    """
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in last if unicodedata.category(ch)[0] != "C").strip()
    return "" if kept in (".", "..") else kept[:NAME_MAX]
