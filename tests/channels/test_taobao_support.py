"""Shared helpers of the Taobao adapter tests (the account, a fixed clock, the TOP recipe written apart from
the adapter), and the known-answer tests that pin those helpers themselves.

The known answers were computed outside Python: ``printf '%s' "$secret$pairs$secret" | openssl md5`` and
``printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -binary | base64``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from lanjie.channels.base import ChannelAccount
from lanjie.channels.taobao import Taobao

APP_KEY, APP_SECRET, SESSION = "SANDBOXTBKEY", "SANDBOXTBSECRET", "SANDBOXTBSESSION"
API = "https://tb.lanjie.test/sandbox/taobao"
CREDENTIALS = {"app_key": APP_KEY, "app_secret": APP_SECRET, "session": SESSION, "seller_nick": "lanjie-sandbox",
               "platform": "taobao"}
ACCOUNT = ChannelAccount("taobao", CREDENTIALS, {"api": API})
TMALL = ChannelAccount("taobao", {**CREDENTIALS, "platform": "tmall"}, {"api": API})
NOW = datetime(2024, 6, 11, 13, 20, tzinfo=UTC)
BEIJING_NOW = "2024-06-11 21:20:00"  # NOW on a Beijing wall clock
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
RECORDINGS = Path(__file__).parent / "recordings" / "taobao"


def recording(name: str) -> Any:
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))


def sign(fields: Mapping[str, str], secret: str = APP_SECRET) -> str:
    """TOP md5 from wire.md's recipe, written here apart from the adapter's code."""
    joined = "".join(f"{name}{value}" for name, value in sorted(fields.items()) if name != "sign" and value)
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest().upper()


def form_of(method: str, *business: tuple[str, str]) -> dict[str, str]:
    """The fields a call must send, in order, sign last."""
    fields = {"method": method, "app_key": APP_KEY, "session": SESSION, "timestamp": BEIJING_NOW,
              "format": "json", "v": "2.0", "sign_method": "md5", **dict(business)}
    fields["sign"] = sign(fields)
    return fields


def body_of(method: str, *business: tuple[str, str]) -> bytes:
    return urlencode(form_of(method, *business)).encode("ascii")


def sent_fields(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode("ascii"), keep_blank_values=True))


def answer(body: object, status_code: int = 200) -> httpx.Response:
    return httpx.Response(status_code, content=json.dumps(body, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json;charset=UTF-8"})


def error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> httpx.Response:
    body: dict[str, object] = {"code": code, "msg": msg, "request_id": "req1"}
    if sub_code:
        body |= {"sub_code": sub_code, "sub_msg": sub_msg}
    return answer({"error_response": body})


@asynccontextmanager
async def taobao(*replies: httpx.Response | Exception,
                 account: ChannelAccount = ACCOUNT) -> AsyncIterator[tuple[Taobao, list[httpx.Request]]]:
    """An adapter wired to scripted answers through httpx.MockTransport; every answer must be used."""
    seen: list[httpx.Request] = []
    script = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = script.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        yield Taobao(account, client, clock=lambda: NOW), seen
    assert script == [], f"{len(script)} scripted answers were never asked for"


def relay_sign(body: bytes, secret: str = APP_SECRET) -> str:
    """The relay's Base64 HMAC-SHA256 from wire.md's recipe, written here apart from the adapter's code."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_the_top_sign_recipe_matches_the_known_answer() -> None:
    fields = {"method": "taobao.rp.refund.intercept", "app_key": APP_KEY, "session": SESSION,
              "timestamp": BEIJING_NOW, "format": "json", "v": "2.0", "sign_method": "md5",
              "refund_id": "20240611001", "refund_version": "1718083200000", "empty": ""}

    assert sign(fields) == "793F9828051ED2DF2F95763F6D7A128E"


def test_the_relay_sign_recipe_matches_the_known_answer() -> None:
    assert relay_sign(b'{"id":"1"}') == "lM2UjJHVdJ7fts7WXSRXFwCpU+Qk7XKT6HQQOOyPd/w="
