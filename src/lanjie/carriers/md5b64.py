"""The Base64-of-raw-MD5 signature family that ZTO, STO and J&T share (carrier-protocols.md §17).

digest = Base64(the 16 raw bytes of MD5(text + secret)), the text and the secret as UTF-8, concatenated
without a separator. What ``text`` is differs per carrier: ZTO signs the JSON body exactly as sent
(header ``x-dataDigest``) and its pushes' ``data`` field; STO signs the ``content`` parameter
(``data_digest``); J&T the ``bizContent`` field (header ``digest``).

Inbound pushes are verified over the field's bytes exactly as received, percent-decoded but never
charset-decoded or re-serialised, with a constant-time compare, and never without a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs

from lanjie.carriers.errors import MalformedPush, SignatureInvalid

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_MAX_FIELDS = 32  # a real push has at most a handful
_MAX_KEY = 128  # the inbox's message_key column


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(text: str | bytes, secret: str) -> str:
    """Base64 of the raw MD5 of ``text + secret`` (UTF-8): the family's digest."""
    return base64.b64encode(hashlib.md5(_bytes(text) + secret.encode("utf-8")).digest()).decode("ascii")


def verify(text: bytes, digest: str | bytes | None, secret: str, *, carrier: str) -> None:
    """Raise SignatureInvalid unless ``digest`` is ``sign(text, secret)``; no secret or no digest fails."""
    if not secret:
        raise SignatureInvalid(f"no secret configured for {carrier}: pushes cannot be verified")
    if not digest:
        raise SignatureInvalid(f"{carrier} push is not signed")
    if not hmac.compare_digest(sign(text, secret).encode("ascii"), _bytes(digest)):
        raise SignatureInvalid(f"{carrier} push signature does not match")


def form_fields(body: bytes, content_type: str) -> dict[str, list[bytes]]:
    """A form body's fields, each value as the exact bytes it percent-decodes to."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ("", FORM_MEDIA_TYPE):
        raise MalformedPush(f"expected a form, got {media_type!r}")
    try:
        # latin-1 maps bytes to characters one to one, so values come back byte for byte and the
        # digest is checked before any charset decoding could change them.
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True, strict_parsing=True,
                          encoding="latin-1", errors="strict", max_num_fields=_MAX_FIELDS)
    except ValueError as exc:
        raise MalformedPush(f"not a form body: {exc}") from exc
    return {name: [value.encode("latin-1") for value in values] for name, values in fields.items()}


def single(fields: Mapping[str, list[bytes]], name: str) -> bytes | None:
    """The one value of a form field, None when absent; twice is refused (one could be verified, the other read)."""
    values = fields.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise MalformedPush(f"field {name!r} appears {len(values)} times")
    return values[0]


def message_key(*parts: str) -> str:
    """A push's de-duplication identity from its parts, readable, hashed only when too long to store."""
    key = "|".join(parts)
    return key if len(key) <= _MAX_KEY else hashlib.sha256(key.encode("utf-8")).hexdigest()
