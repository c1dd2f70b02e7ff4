"""Yunda (韵达) as the sandbox plays it: the track query, subscriptions and signed track pushes.

Documented (carrier-protocols.md §8 [mirror], §17) and followed exactly: POST of a JSON body with the
headers ``app-key``, ``sign`` and ``req-time``, ``sign`` = lower-case hex MD5 of the body's bytes +
``_`` + appSecret (checked here over the raw bytes received); the track query at
``/outer/logictis/query`` (sic) with ``{"mailno": …}``; the parcel statuses and step actions, each
step with ``station``, ``station_name``, ``station_type``, ``next``, ``next_name``, ``next_city``,
``description``, ``signer``.

Not documented by Yunda, so these are **lanjie's sandbox choices** (a real account may differ):

* Every answer is ``{"result": bool, "code": str, "message": str}`` plus ``data`` for a trace:
  ``0000`` ok, ``1001`` missing field or header (the message names it), ``1002`` bad sign, ``1003``
  unknown or expired app-key, ``1004`` rate limited (the faults plan), ``1005`` body not a JSON
  object, ``2001`` no trace (unknown waybill, another courier's, or nothing scanned), ``2002``
  already subscribed. Always HTTP 200, apart from the faults plan's 5xx.
* The trace: ``data = {mailno, status, steps}``, steps oldest first, times in Beijing time
  ``yyyy-MM-dd HH:mm:ss``; the actions each sandbox scan becomes are in ``ACTION_OF`` below. A
  parcel signed for by its sender after a return is a ``SIGNED`` step after ``RETURN`` steps (status
  ``RETURN``); a parcel still waiting for pickup has status ``ACCEPT``; damage and loss are ``ISSUE``.
* The subscription at ``/outer/logictis/subscribe``: ``{"orders": [{"orderid", "mailno"}],
  "callback_url"}``; an unknown waybill is accepted and pushed once it has scans.
* The push: a JSON POST to ``callback_url`` of ``{mailno, orderid, status, steps}`` with the
  parcel's **full** history, signed with the request recipe (headers ``app-key``, ``sign``,
  ``req-time``), one push per new scan; acknowledged by ``{"result": true, "code": "0000", …}``,
  anything else is retried. The subscription ends with the push of a delivery or a return signature.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from fastapi import APIRouter, Request, Response

from lanjie.sandbox.feeds import Feed, ack_object, first_push, subscribed
from lanjie.sandbox.model import Channel, InterceptTask, Parcel, Scan
from lanjie.sandbox.push import PushBody
from lanjie.sandbox.route import Node, NodeKind, ScanCode
from lanjie.sandbox.serving import Describe, Described, WireAnswer, WireRequest, serve
from lanjie.sandbox.wirefmt import dumps, wire_time
from lanjie.sandbox.world import WorldError

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CARRIER = "yunda"

#: Yunda's step ``action`` and the parcel ``status`` for each sandbox scan.
ACTION_OF: dict[ScanCode, tuple[str, str]] = {
    ScanCode.ordered: ("ACCEPT", "ACCEPT"),
    ScanCode.picked_up: ("GOT", "GOT"),
    ScanCode.departed: ("DEPARTURE", "TRANSIT"),
    ScanCode.arrived_hub: ("ARRIVAL", "TRANSIT"),
    ScanCode.arrived_outlet: ("ARRIVAL", "TRANSIT"),
    ScanCode.out_for_delivery: ("SENT", "TRANSIT"),
    ScanCode.delivered: ("SIGNED", "SIGNED"),
    ScanCode.intercepted: ("RETURN", "RETURN"),
    ScanCode.return_departed: ("RETURN", "RETURN"),
    ScanCode.return_arrived: ("RETURN", "RETURN"),
    ScanCode.return_signed: ("SIGNED", "RETURN"),
    ScanCode.redirected: ("TRANSFER", "TRANSIT"),
    ScanCode.damaged: ("ISSUE", "TRANSIT"),
    ScanCode.lost: ("ISSUE", "TRANSIT"),
}
STATION_TYPE = {NodeKind.outlet: "网点", NodeKind.hub: "分拨中心"}


class Code:
    """Answer ``code`` values (sandbox choices, see the module docstring)."""

    ok = "0000"
    missing = "1001"
    bad_sign = "1002"
    bad_key = "1003"
    rate_limited = "1004"
    not_json = "1005"
    no_trace = "2001"
    duplicate = "2002"


def sign(body: bytes, app_secret: str) -> str:
    """Lower-case hex MD5 of the body's bytes, ``_``, the app secret."""
    return hashlib.md5(body + b"_" + app_secret.encode("utf-8")).hexdigest()


def millis(at: datetime) -> str:
    return str((at - _EPOCH) // timedelta(milliseconds=1))


def is_ack(status_code: int, body: bytes) -> bool:
    """True for a 2xx answer whose JSON says ``result: true`` and ``code: "0000"``."""
    answer = ack_object(status_code, body)
    return answer is not None and answer.get("result") is True and answer.get("code") == Code.ok


def station_code(node: Node) -> str:
    """A stable six-digit site code for a sandbox node."""
    return f"{zlib.crc32(node.name.encode('utf-8')) % 1_000_000:06d}"


def _next_node(parcel: Parcel, scan: Scan) -> Node | None:
    nodes = parcel.route.nodes
    step = {ScanCode.departed: 1, ScanCode.return_departed: -1}.get(scan.code)
    if step is None or not 0 <= scan.node_index + step < len(nodes):
        return None
    return nodes[scan.node_index + step]


def _signer(parcel: Parcel, scan: Scan) -> str:
    if scan.code is ScanCode.return_signed:
        return parcel.sender.name
    if scan.code is ScanCode.delivered:
        task = parcel.intercept
        return task.new_recipient.name if task is not None and task.new_recipient is not None else parcel.recipient.name
    return ""


def step(parcel: Parcel, scan: Scan) -> dict[str, str]:
    following = _next_node(parcel, scan)
    return {
        "time": wire_time(scan.at),
        "action": ACTION_OF[scan.code][0],
        "station": station_code(scan.node),
        "station_name": scan.node.name,
        "station_type": STATION_TYPE[scan.node.kind],
        "next": station_code(following) if following is not None else "",
        "next_name": following.name if following is not None else "",
        "next_city": following.city.name if following is not None else "",
        "description": scan.context,
        "signer": _signer(parcel, scan),
    }


def trace(parcel: Parcel) -> dict[str, Any]:
    """``{mailno, status, steps}``: the parcel's full history, oldest first."""
    return {"mailno": parcel.waybill_no, "status": ACTION_OF[parcel.last_scan.code][1],
            "steps": [step(parcel, scan) for scan in parcel.scans]}


@dataclass
class Account:
    app_key: str
    app_secret: str
    expired: bool = False


@dataclass
class Subscription:
    app_key: str
    mailno: str
    orderid: str
    callback_url: str
    feed: Feed = field(default_factory=Feed)


class Refused(Exception):
    """A request refused with a Yunda answer code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _answer(code: str, message: str, data: Any = None, waybill_no: str = "") -> WireAnswer:
    body: dict[str, Any] = {"result": code == Code.ok, "code": code, "message": message}
    if data is not None:
        body["data"] = data
    return WireAnswer(body, code, message, waybill_no=waybill_no)


def _describe(method: str) -> Describe:
    def describe(wire: WireRequest) -> Described:
        try:
            body = wire.json()
        except ValueError:
            body = {}
        mailno = body.get("mailno") if isinstance(body, dict) else None
        if isinstance(body, dict) and isinstance(body.get("orders"), list) and body["orders"]:
            first = body["orders"][0]
            mailno = first.get("mailno") if isinstance(first, dict) else None
        return Described(method, mailno if isinstance(mailno, str) else "", wire.headers.get("app-key", ""))

    return describe


def _text(data: Mapping[str, Any], name: str, required: bool = True) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise Refused(Code.missing, f"缺少参数 {name}")
        return ""
    if not isinstance(value, str):
        raise Refused(Code.missing, f"参数 {name} 必须是字符串")
    return value


class YundaTwin:
    """Yunda's open platform, track part."""

    name: ClassVar[str] = "yunda"
    test_credentials: ClassVar[Mapping[str, str]] = {"app_key": "YDSANDBOXKEY",
                                                      "app_secret": "YDSANDBOXSECRET0123456789"}

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.accounts: dict[str, Account] = {}
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # (app_key, mailno) → newest
        self.register_account(self.test_credentials)

    def register_account(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        app_key, app_secret = credentials.get("app_key", ""), credentials.get("app_secret", "")
        if not app_key or not app_secret:
            raise WorldError(422, "credentials: yunda needs app_key and app_secret")
        self.accounts[app_key] = Account(app_key, app_secret, expired)
        return {"app_key": app_key, "expired": expired}

    def router(self) -> APIRouter:
        router = APIRouter()
        world = self.world

        @router.post("/outer/logictis/query", summary="Track query (物流轨迹查询)")
        async def query(request: Request) -> Response:
            return await serve(world, Channel.query, request, self.query, _describe("query"),
                               rate_limited=self.rate_limited)

        @router.post("/outer/logictis/subscribe", summary="Track subscription (物流轨迹订阅, sandbox choice)")
        async def subscribe(request: Request) -> Response:
            return await serve(world, Channel.subscribe, request, self.subscribe, _describe("subscribe"),
                               rate_limited=self.rate_limited)

        return router

    # ---- requests ------------------------------------------------------------------------------

    def rate_limited(self, _wire: WireRequest) -> WireAnswer:
        return _answer(Code.rate_limited, "请求过于频繁，请稍后再试")

    def _authenticated(self, wire: WireRequest) -> tuple[Account, dict[str, Any]]:
        for header in ("app-key", "sign", "req-time"):
            if not wire.headers.get(header):
                raise Refused(Code.missing, f"缺少请求头 {header}")
        if not wire.headers["req-time"].isdigit():
            raise Refused(Code.missing, "请求头 req-time 必须是毫秒时间戳")
        account = self.accounts.get(wire.headers["app-key"])
        if account is None or account.expired:
            raise Refused(Code.bad_key, "app-key 无效或已过期")
        expected = sign(wire.body, account.app_secret)
        if not hmac.compare_digest(expected.encode(), wire.headers["sign"].encode()):
            raise Refused(Code.bad_sign, "签名错误")
        try:
            data = wire.json()
        except ValueError:
            raise Refused(Code.not_json, "报文不是合法的 JSON") from None
        if not isinstance(data, dict):
            raise Refused(Code.not_json, "报文必须是 JSON 对象")
        return account, data

    def query(self, wire: WireRequest) -> WireAnswer:
        """``POST outer/logictis/query``: the parcel's trace now."""
        try:
            _, data = self._authenticated(wire)
            mailno = _text(data, "mailno")
        except Refused as exc:
            return _answer(exc.code, exc.message)
        parcel = self._parcel(mailno)
        if parcel is None or not parcel.scans:
            return _answer(Code.no_trace, "暂无轨迹信息", waybill_no=mailno)
        return _answer(Code.ok, "成功", trace(parcel), waybill_no=mailno)

    def subscribe(self, wire: WireRequest) -> WireAnswer:
        """``POST outer/logictis/subscribe``: push this waybill's new scans to ``callback_url``."""
        try:
            account, data = self._authenticated(wire)
            orders = data.get("orders")
            if not isinstance(orders, list) or len(orders) != 1 or not isinstance(orders[0], dict):
                raise Refused(Code.missing, "orders 必须是只含一个运单的列表")
            mailno = _text(orders[0], "mailno")
            orderid = _text(orders[0], "orderid", required=False)
            callback_url = _text(data, "callback_url")
            if not callback_url.startswith(("http://", "https://")):
                raise Refused(Code.missing, "callback_url 不是 http(s) 地址")
        except Refused as exc:
            return _answer(exc.code, exc.message)
        current = self.subscriptions.get((account.app_key, mailno))
        if current is not None and current.feed.active:
            return _answer(Code.duplicate, "重复订阅：该运单正在订阅中", waybill_no=mailno)
        subscription = Subscription(account.app_key, mailno, orderid, callback_url)
        self.subscriptions[(account.app_key, mailno)] = subscription
        first_push(self.world, self._parcel(mailno), lambda: self._push_if_active(subscription))
        return _answer(Code.ok, "订阅成功", waybill_no=mailno)

    def _parcel(self, mailno: str) -> Parcel | None:
        parcel = self.world.parcels.get(mailno)
        return parcel if parcel is not None and parcel.carrier_code == CARRIER else None

    # ---- pushes --------------------------------------------------------------------------------

    def on_tracking(self, parcel: Parcel) -> None:
        if parcel.carrier_code == CARRIER:
            for subscription in subscribed(self.subscriptions, parcel.waybill_no):
                if subscription.feed.active:
                    self._push(subscription, parcel)

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """Yunda takes no intercepts, so it has no outcome to report."""

    def _push_if_active(self, subscription: Subscription) -> None:
        parcel = self._parcel(subscription.mailno)
        if subscription.feed.active and parcel is not None and parcel.scans:
            self._push(subscription, parcel)

    def _push(self, subscription: Subscription, parcel: Parcel) -> None:
        account = self.accounts[subscription.app_key]
        text = dumps({"orderid": subscription.orderid, **trace(parcel)})
        raw = text.encode("utf-8")
        headers = {"app-key": account.app_key, "sign": sign(raw, account.app_secret),
                   "req-time": millis(self.world.clock.now())}
        subscription.feed.send_history(
            self.world, parcel, url=subscription.callback_url, body=PushBody.json_text(text, headers),
            summary=f"{ACTION_OF[parcel.last_scan.code][1]}, {len(parcel.scans)} steps", ack=is_ack)
