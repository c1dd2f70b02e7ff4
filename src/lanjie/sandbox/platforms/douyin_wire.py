"""Douyin's wire format as the sandbox speaks it (the platform-wire decisions lanjie's adapter shares).

* Request signature: lower-case hex HMAC-SHA256, key the app secret, over
  ``secret + "app_key" + app_key + "method" + method + "param_json" + param_json + "timestamp" +
  timestamp + "v" + "2" + secret`` (reference §1.0; the key being the secret is the shared decision).
* Answers: ``{"code":10000,"msg":"success","sub_code":"","sub_msg":"","data":{…},"log_id":…}``;
  errors carry the code and sub-code decided for each case (``Refusal`` constants below).
* Pushes: a JSON array of ``{"tag","msg_id","data"}`` whose ``data`` is itself a JSON string, with
  headers ``app-id`` and ``event-sign`` = lower-hex MD5(app_key + raw body + app_secret); the receiver
  acknowledges with exactly ``{"code":0,"msg":"success"}``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from lanjie.sandbox.push import PushBody
from lanjie.sandbox.wirefmt import dumps, json_answer


@dataclass(frozen=True)
class Refusal:
    """A Douyin error answer."""

    code: int
    msg: str
    sub_code: str
    sub_msg: str

    def answer(self, log_id: str) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg, "sub_code": self.sub_code, "sub_msg": self.sub_msg,
                "data": {}, "log_id": log_id}

    def saying(self, sub_msg: str) -> Refusal:
        return Refusal(self.code, self.msg, self.sub_code, sub_msg)


BAD_SIGN = Refusal(40004, "参数错误", "isv.parameter-invalid:sign", "签名校验失败")
BAD_TOKEN = Refusal(40003, "access_token无效", "isv.access-token-invalid", "access_token已过期或无效")
BAD_PARAMETER = Refusal(40004, "参数错误", "isv.parameter-invalid:11000", "参数错误")
NO_SUCH_METHOD = Refusal(40004, "参数错误", "isv.parameter-invalid:method", "method与路径不符或不存在")
NO_SUCH_CASE = Refusal(20000, "服务异常", "isp.service-error:10000", "售后单不存在")
WRONG_STATUS = Refusal(50002, "业务处理失败", "isv.business-failed:20309541", "售后状态错误")
BACK_OFFICE_ONLY = Refusal(50002, "业务处理失败", "isv.business-failed:11001",
                           "暂不支持通过OPEN处理，请登录抖店后台人工审核")
NO_ASSISTANT = Refusal(50002, "业务处理失败", "isv.business-failed:11002", "店铺未设置或启用售后小助手策略")
TYPE_MISMATCH = Refusal(50002, "业务处理失败", "isv.business-failed:12001", "售后单类型与策略限制不符合")


def success(data: dict[str, Any], log_id: str) -> dict[str, Any]:
    return {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "data": data, "log_id": log_id}


def sign(app_key: str, app_secret: str, method: str, param_json: str, timestamp: str) -> str:
    """The request signature (lower-case hex)."""
    text = (f"{app_secret}app_key{app_key}method{method}param_json{param_json}"
            f"timestamp{timestamp}v2{app_secret}")
    return hmac.new(app_secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def event_sign(app_key: str, app_secret: str, body: bytes) -> str:
    """The push signature (lower-case hex MD5 of app_key + body + app_secret)."""
    return hashlib.md5(app_key.encode("utf-8") + body + app_secret.encode("utf-8")).hexdigest()


def push_body(app_key: str, app_secret: str, tag: str, msg_id: str, data: dict[str, Any]) -> PushBody:
    """One message as a signed push (an array of one: the sandbox never batches messages)."""
    raw = dumps([{"tag": tag, "msg_id": msg_id, "data": dumps(data)}]).encode("utf-8")
    return PushBody(raw, {"Content-Type": "application/json", "app-id": app_key,
                          "event-sign": event_sign(app_key, app_secret, raw)})


def push_acked(status_code: int, body: bytes) -> bool:
    """True for a 2xx answer whose body is ``{"code":0,"msg":"success"}``."""
    answer = json_answer(status_code, body)
    return answer is not None and answer.get("code") == 0 and answer.get("msg") == "success"
