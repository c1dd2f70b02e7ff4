"""Shared helpers of the sales-platform simulator tests (no tests here): signed calls built from wire.md.

Signatures are computed here with hashlib/hmac, independently of the sandbox's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from lanjie.sandbox import SandboxWorld

from .support import PushReceiver, in_process

HOUR = 3600.0
DY_KEY, DY_SECRET, DY_TOKEN = "SANDBOXDYKEY", "SANDBOXDYSECRET", "SANDBOXDYTOKEN"
TB_KEY, TB_SECRET, TB_SESSION = "SANDBOXTBKEY", "SANDBOXTBSECRET", "SANDBOXTBSESSION"
DY_PUSH = "https://lanjie.example/hooks/douyin/tok"
TB_PUSH = "https://lanjie.example/hooks/taobao/tok"
DY_ACK = b'{"code":0,"msg":"success"}'
TB_ACK = b'{"result":"success"}'
TIMESTAMP = "2025-03-01 10:00:00"


class MessageReceiver(PushReceiver):
    """Stands for lanjie's push endpoint: each push is a JSON array of one message."""

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(push.content)[0] for push in self.pushes]

    def tags(self) -> list[str]:
        return [message["tag"] for message in self.messages()]

    def topics(self) -> list[str]:
        return [message["topic"].removeprefix("taobao_refund_") for message in self.messages()]

    def data(self) -> list[dict[str, Any]]:
        return [json.loads(message["data"] if "data" in message else message["content"])
                for message in self.messages()]


def sandbox(ack: bytes, **config: Any) -> AbstractAsyncContextManager[tuple[SandboxWorld, httpx.AsyncClient,
                                                                          MessageReceiver]]:
    return in_process(MessageReceiver(ack), **config)


def dy_sign(method: str, param_json: str, timestamp: str = TIMESTAMP, *, key: str = DY_KEY,
            secret: str = DY_SECRET) -> str:
    text = (secret + "app_key" + key + "method" + method + "param_json" + param_json + "timestamp" + timestamp
            + "v" + "2" + secret)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def event_sign(body: bytes, key: str = DY_KEY, secret: str = DY_SECRET) -> str:
    return hashlib.md5(key.encode() + body + secret.encode()).hexdigest()


async def douyin(client: httpx.AsyncClient, method: str, params: dict[str, Any], *, token: str = DY_TOKEN,
                 sign: str | None = None, key: str = DY_KEY) -> dict[str, Any]:
    """A signed Douyin OpenAPI call as wire.md describes it."""
    param_json = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    query = {"app_key": key, "method": method, "access_token": token, "timestamp": TIMESTAMP, "v": "2",
             "sign_method": "hmac-sha256", "sign": sign if sign is not None else dy_sign(method, param_json)}
    response = await client.post("/douyin/" + method.replace(".", "/"), params=query,
                                 content=param_json.encode("utf-8"), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


def top_sign(fields: dict[str, str], secret: str = TB_SECRET) -> str:
    text = "".join(k + v for k, v in sorted(fields.items()) if k != "sign" and v != "")
    return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()


def relay_sign(body: bytes, secret: str = TB_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def taobao(client: httpx.AsyncClient, method: str, params: dict[str, str], *, session: str = TB_SESSION,
                 key: str = TB_KEY, secret: str = TB_SECRET, sign: str | None = None) -> dict[str, Any]:
    """A signed TOP call as wire.md describes it."""
    fields = {"method": method, "app_key": key, "session": session, "timestamp": TIMESTAMP, "format": "json",
              "v": "2.0", "sign_method": "md5", **params}
    fields["sign"] = sign if sign is not None else top_sign(fields, secret)
    response = await client.post("/taobao/router/rest", data=fields)
    assert response.status_code == 200, response.text
    return response.json()


async def control(client: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None,
                  status: int = 200) -> dict[str, Any]:
    response = await (client.post(f"/control/platforms{path}", json=body) if body is not None
                      else client.get(f"/control/platforms{path}"))
    assert response.status_code == status, response.text
    return response.json()
