"""Kuaidi100 (快递100) wire formats as the sandbox speaks them: signatures, times, codes, payloads.

Documented by Kuaidi100 and followed exactly (reference §2, §17, §18): the form fields of
``label/order`` (interceptOrder), ``poll`` and ``poll/query.do``; the three signature recipes; the
subscription ``returnCode`` table; the push envelope with the full history newest first and its
acknowledgement ``{"result": true, "returnCode": "200", "message": "成功"}``; the state codes of §2.6.

Couriers are named by Kuaidi100's own company codes (``zhongtong``, ``yuantong``, ``shunfeng``…,
``COMPANIES``); lanjie's short codes (``zto``) are not Kuaidi100's and are refused like any unknown code
(subscribe ``702``, query ``400``, interceptOrder ``30005``). The world inside keeps its own short codes.

Not documented by Kuaidi100, so these are **lanjie's sandbox choices** (a real account may differ):

* interceptOrder result codes: ``200`` accepted (``data.taskId``), ``400`` bad or missing parameter
  (the message names it), ``403`` unknown key or bad signature, ``429`` rate limited, ``30001``
  already signed, ``30002`` out for delivery, ``30003`` not picked up (cancel the order instead),
  ``30004`` already intercepted and still in progress (``data.taskId`` of the existing task, only to
  the key that asked for it: a repeat of our own request), ``30005`` waybill unknown to the carrier or
  not supported, ``30006`` intercepted before (已拦截过: the earlier intercept has its outcome, or
  another key asked for it; at most one per waybill). Errors carry ``"data": {}``.
  ``time`` is the sandbox's simulated clock in milliseconds.
* The intercept result callback: a form POST of ``param`` and ``sign = MD5(param + salt)`` (upper-case
  hex), ``param`` = ``{taskId, kuaidicom, kuaidinum, status: SUCCESS|FAIL, code, message, time}`` with
  ``code`` ``200`` (turned back), ``31001`` (missed: delivered before the stop took effect), ``31003``
  (派件中: out for delivery when the stop took effect, so the outlet let the delivery go on) or ``31002``
  (any other failure). Acknowledged like a tracking push.
* The 4-subscriptions-a-month limit answers ``returnCode`` ``700`` with a message saying so; a
  resubscription within 30 minutes of a shutdown or abort answers ``501``.
* Signatures we receive must be upper-case hex, as Kuaidi100's demos send them.
* Work orders (工单): the codes, statuses and callback are described in ``kuaidi100_workorder``.

All times on the wire are Beijing time (UTC+8) as ``yyyy-MM-dd HH:mm:ss``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

from lanjie.domain.states import TrackingStatus
from lanjie.sandbox.model import InterceptTask, Refusal, Scan, TaskOutcome
from lanjie.sandbox.route import ScanCode
from lanjie.sandbox.wirefmt import BEIJING, WIRE_TIME, json_answer, wire_time


class InterceptCode(IntEnum):
    """interceptOrder ``code`` values (sandbox choices, see the module docstring)."""

    accepted = 200
    bad_request = 400
    forbidden = 403  # unknown key or bad signature
    rate_limited = 429
    already_signed = 30001  # 已签收, 不可拦截
    out_for_delivery = 30002  # 派件中, 不可拦截
    not_picked_up = 30003  # 未揽收, 请取消订单
    already_intercepted = 30004  # 已拦截: this key's intercept is still in progress
    not_supported = 30005  # 单号不存在或不支持拦截
    intercepted_before = 30006  # 已拦截过: resolved, or asked for by another key


class ResultCode(StrEnum):
    """``code`` of an intercept result callback (sandbox choices)."""

    succeeded = "200"
    missed = "31001"  # delivered before the stop took effect
    failed = "31002"
    out_for_delivery = "31003"  # 派件中 when the stop took effect: the delivery goes on


class SubscribeCode(StrEnum):
    """``returnCode`` of a ``poll`` subscription (documented, §2.2)."""

    ok = "200"
    duplicate = "501"  # already polling
    server_error = "500"
    bad_key = "600"
    key_expired = "601"
    bad_data = "700"
    refused = "701"
    unknown_carrier = "702"


class QueryCode(StrEnum):
    """``returnCode`` of a failed ``poll/query.do``."""

    bad_data = "400"  # missing field, unknown carrier code
    no_result = "500"  # 查询无结果
    bad_sign = "503"  # 验证签名失败
    bad_customer = "601"  # key expired or unknown customer


#: Kuaidi100's company codes [official] → the world's carrier codes. Only these name a courier on
#: Kuaidi100's paths.
COMPANIES: dict[str, str] = {
    "zhongtong": "zto", "yuantong": "yto", "shentong": "sto", "yunda": "yunda", "jtexpress": "jtexpress",
    "shunfeng": "shunfeng", "jd": "jd", "ems": "ems", "debangwuliu": "debangwuliu",
    "youzhengguonei": "youzhengguonei", "ups": "ups",
}
#: The world's carrier code → Kuaidi100's company code (for the ``comNew`` of an ``autoCheck`` correction).
COMPANY_OF: dict[str, str] = {carrier: company for company, carrier in COMPANIES.items()}


def world_carrier(company: str) -> str | None:
    """The world's carrier for a Kuaidi100 company code, or None (lanjie's ``zto`` included)."""
    return COMPANIES.get(company.strip().lower())


#: Kuaidi100 (state, sub-state) for each scan; a sub-state of None means the state has none.
STATE_OF: dict[ScanCode, tuple[str, str | None]] = {
    ScanCode.ordered: ("1", "102"),  # 待揽收
    ScanCode.picked_up: ("1", "103"),  # 已揽收
    ScanCode.departed: ("0", "1002"),  # 干线
    ScanCode.arrived_hub: ("0", "1002"),
    ScanCode.arrived_outlet: ("0", "1001"),  # 到达派件城市
    ScanCode.out_for_delivery: ("5", None),
    ScanCode.delivered: ("3", "301"),  # 本人签收
    ScanCode.intercepted: ("6", None),  # 退回
    ScanCode.return_departed: ("6", None),
    ScanCode.return_arrived: ("6", None),
    ScanCode.return_signed: ("4", None),  # 退签
    ScanCode.redirected: ("0", "1003"),  # 转递
    ScanCode.damaged: ("2", "209"),  # 破损
    ScanCode.lost: ("2", "202"),  # 超时未更新
}

STATE_TEXT: dict[str, str] = {
    "0": "在途", "1": "揽收", "2": "疑难", "3": "签收", "4": "退签", "5": "派件", "6": "退回",
}

#: Acknowledgement a subscriber answers a push or callback with.
ACK_BODY = {"result": True, "returnCode": "200", "message": "成功"}


class ParamError(ValueError):
    """A request field is missing or malformed; the message names it."""


def text_field(param: Mapping[str, Any], name: str, required: bool = True, within: str = "") -> str:
    """A string field of a request's ``param``; ParamError (naming it) when missing or not a string."""
    value = param.get(name)
    label = f"{within}.{name}" if within else name
    if value is None or value == "":
        if required:
            raise ParamError(f"参数错误：缺少 {label}")
        return ""
    if not isinstance(value, str):
        raise ParamError(f"参数错误：{label} 必须是字符串")
    return value


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://")) and len(value) > len("https://")


def json_object(text: str) -> dict[str, Any]:
    """A request's ``param`` decoded; ParamError when it is not a JSON object."""
    try:
        value = json.loads(text)
    except ValueError:
        raise ParamError("参数错误：param 不是合法的 JSON") from None
    if not isinstance(value, dict):
        raise ParamError("参数错误：param 必须是 JSON 对象")
    return value


def md5_upper(text: str) -> str:
    """Upper-case hex MD5 of the UTF-8 bytes of ``text`` (every Kuaidi100 recipe ends like this)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def intercept_sign(param: str, t: str, key: str, secret: str) -> str:
    return md5_upper(param + t + key + secret)


def query_sign(param: str, key: str, customer: str) -> str:
    return md5_upper(param + key + customer)


def push_sign(param: str, salt: str) -> str:
    return md5_upper(param + salt)


def parse_wire_time(text: str) -> datetime:
    """The aware UTC instant of a Beijing wire time."""
    return datetime.strptime(text, WIRE_TIME).replace(tzinfo=BEIJING).astimezone(UTC)


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def tracking_item(scan: Scan) -> dict[str, str]:
    state, sub_state = STATE_OF[scan.code]
    when = wire_time(scan.at)
    return {
        "context": scan.context,
        "time": when,
        "ftime": when,
        "status": STATE_TEXT[state],
        "areaCode": scan.node.city.area_code,
        "areaName": scan.node.city.area_name,
        "statusCode": sub_state or state,
    }


def last_result(com: str, number: str, scans: Sequence[Scan], *, newest_first: bool = True) -> dict[str, Any]:
    """The tracking snapshot (``lastResult`` of a push, the body of a query): full history."""
    ordered = list(reversed(scans)) if newest_first else list(scans)
    state = STATE_OF[scans[-1].code][0] if scans else "0"
    finished = bool(scans) and scans[-1].status in (TrackingStatus.delivered, TrackingStatus.returned)
    return {
        "message": "ok",
        "state": state,
        "status": "200",
        "condition": "F00",
        "ischeck": "1" if finished else "0",
        "com": com,
        "nu": number,
        "data": [tracking_item(scan) for scan in ordered],
    }


def push_param(status: str, result: dict[str, Any], message: str = "",
               correction: tuple[str, str] | None = None) -> dict[str, Any]:
    """The ``param`` of a tracking push; ``status`` is polling, shutdown or abort.

    ``correction`` = (old code, new code) when Kuaidi100 corrected a wrong carrier code (``autoCheck``).
    """
    return {
        "status": status,
        "billstatus": "",
        "message": message,
        "autoCheck": "1" if correction else "0",
        "comOld": correction[0] if correction else "",
        "comNew": correction[1] if correction else "",
        "lastResult": result,
    }


_RESULT_OF = {
    TaskOutcome.succeeded: ("SUCCESS", ResultCode.succeeded),
    TaskOutcome.missed: ("FAIL", ResultCode.missed),
    TaskOutcome.failed: ("FAIL", ResultCode.failed),
}


def callback_param(task: InterceptTask, kuaidicom: str) -> dict[str, str]:
    """The ``param`` of an intercept result callback for a resolved task."""
    if task.outcome is None or task.resolved_at is None:
        raise ValueError(f"task {task.task_id} has no outcome yet")
    status, code = _RESULT_OF[task.outcome]
    if task.outcome is TaskOutcome.failed and task.cause is Refusal.out_for_delivery:
        code = ResultCode.out_for_delivery
    return {
        "taskId": task.task_id,
        "kuaidicom": kuaidicom,
        "kuaidinum": task.waybill_no,
        "status": status,
        "code": code.value,
        "message": task.message,
        "time": wire_time(task.resolved_at),
    }


def is_ack(status_code: int, body: bytes) -> bool:
    """True for a 2xx answer whose JSON says ``result: true`` and ``returnCode: "200"``."""
    answer = json_answer(status_code, body)
    return answer is not None and answer.get("result") is True and answer.get("returnCode") == "200"
