"""Taobao's TOP wire format and lanjie's TMC relay, as the sandbox speaks them (shared decisions).

* Request signature (TOP md5): every field but ``sign`` with a non-empty value, sorted by name (byte
  order), concatenated as name + value, wrapped in the app secret on both sides, MD5, upper-case hex.
* Answers: ``{"<method without 'taobao.', dots as '_'>_response": {…}}``; errors
  ``{"error_response": {"code", "msg", "sub_code", "sub_msg", "request_id"}}`` with TOP's system codes
  (21 missing method, 22 invalid method, 25 invalid signature, 27 invalid session, 29 invalid app key,
  40 missing argument, 41 invalid argument) and code 15 "Remote service error" for business refusals.
* Messages: TMC is a long-lived connection on the real platform; lanjie receives it through an HTTP
  relay (a lanjie convention): ``POST`` of a JSON array of ``{"id","topic","pub_time","user_id","content"}``
  (``content`` a JSON string) with headers ``x-lanjie-tmc-appkey`` and ``x-lanjie-tmc-sign`` =
  Base64(HMAC-SHA256(app_secret, raw body)); the relay acknowledges with ``{"result":"success"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lanjie.sandbox.push import PushBody
from lanjie.sandbox.wirefmt import dumps, json_answer

#: The decided business sub-codes (reference silent).
VERSION_EXPIRED = "isv.refund-version-expired"
STATUS_NOT_SUPPORTED = "isv.refund-status-not-support"
NEED_VERIFY_CODE = "isv.need-verify-code"
NO_SUCH_REFUND = "isv.refund-not-exist"
FEE_MISMATCH = "isv.refund-fee-mismatch"
BATCH_LIMIT = "isv.batch-limit-exceeded"


@dataclass(frozen=True)
class TopError:
    """A TOP error answer."""

    code: int
    msg: str
    sub_code: str = ""
    sub_msg: str = ""

    def answer(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.sub_code:
            error.update(sub_code=self.sub_code, sub_msg=self.sub_msg)
        return {"error_response": {**error, "request_id": request_id}}


def business(sub_code: str, sub_msg: str) -> TopError:
    return TopError(15, "Remote service error", sub_code, sub_msg)


def missing(name: str) -> TopError:
    return TopError(40, f"Missing required arguments:{name}")


def invalid(name: str) -> TopError:
    return TopError(41, f"Invalid arguments:{name}")


BAD_SIGN = TopError(25, "Invalid signature")
BAD_SESSION = TopError(27, "Invalid session")
BAD_APP_KEY = TopError(29, "Invalid app Key")
NO_METHOD = TopError(21, "Missing method")
BAD_METHOD = TopError(22, "Invalid method")


def sign(fields: Mapping[str, str], secret: str) -> str:
    """The TOP md5 signature of a request's fields."""
    text = "".join(f"{name}{value}" for name, value in sorted(fields.items()) if name != "sign" and value != "")
    return hashlib.md5(f"{secret}{text}{secret}".encode()).hexdigest().upper()


def response_key(method: str) -> str:
    """``taobao.rp.refunds.agree`` → ``rp_refunds_agree_response``."""
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


def relay_sign(app_secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def relay_body(app_key: str, app_secret: str, message: dict[str, Any]) -> PushBody:
    """One TMC message relayed over HTTP (an array of one: the sandbox never batches)."""
    raw = dumps([message]).encode("utf-8")
    return PushBody(raw, {"Content-Type": "application/json", "x-lanjie-tmc-appkey": app_key,
                          "x-lanjie-tmc-sign": relay_sign(app_secret, raw)})


def relay_acked(status_code: int, body: bytes) -> bool:
    """True for a 2xx answer whose body is ``{"result":"success"}``."""
    answer = json_answer(status_code, body)
    return answer is not None and answer.get("result") == "success"
