"""Kdniao (快递鸟) as the sandbox plays it: a tracking aggregator with query, subscription and trace pushes.

Documented by third parties matching Kdniao's SDK (carrier-protocols.md §3, §17, §18) and followed
exactly: form POSTs of ``RequestData`` (JSON), ``EBusinessID``, ``RequestType``, ``DataSign``,
``DataType=2`` to ``/Ebusiness/EbusinessOrderHandle.aspx`` (1002 real-time query) and ``/api/dist``
(1008 subscription); ``DataSign`` = Base64 of the lower-case hex MD5 of RequestData + AppKey, checked
here over the field exactly as received (form-decoded once); the trace push (RequestType 101, form
``RequestData`` + ``DataSign`` + ``RequestType``, body ``{EBusinessID, PushTime, Count, Data}``, each
TracingData with the parcel's **full** history) and its acknowledgement ``{EBusinessID, UpdateTime,
Success: true, Reason}`` (anything else is retried); ShipperCodes; State and StateEx/Action codes.

Not documented, so these are **lanjie's sandbox choices** (a real account may differ):

* Answers carry ``Success``, ``Reason`` and a ``ResultCode``: ``100`` ok, ``101`` missing parameter,
  ``102`` DataSign mismatch, ``103`` format error (RequestData not a JSON object, DataType not 2,
  RequestType not served at that path), ``104`` unknown or expired EBusinessID, ``401`` rate limited
  (the faults plan), ``402`` ShipperCode not served, ``403`` already subscribed (``Success: true``,
  the subscription stands), ``404`` no trace (unknown waybill, another courier's, nothing scanned;
  answered as a trace with ``State`` 0 and no ``Traces``), ``405`` SF without ``CustomerName`` (the
  last four digits of a phone). Always HTTP 200.
* Traces oldest first; the (State, Action) each sandbox scan becomes is in ``STATE_OF`` below.
* Pushes go to the account's console ``push_url`` when one was registered, else to the
  subscription's ``Callback`` when it is an http(s) URL (real Kdniao only uses its console URL and
  echoes ``Callback`` as ``CallBack``, which the twin also does). A subscription with neither is
  refused with 101.
* One parcel per push (``Count`` "1"), one push per new scan; the subscription ends with the push
  of a delivery or a return signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from fastapi import APIRouter, Request, Response

from lanjie.sandbox.feeds import Feed, ack_object, first_push, subscribed
from lanjie.sandbox.model import Channel, InterceptTask, Parcel
from lanjie.sandbox.push import AckCheck, PushBody
from lanjie.sandbox.route import ScanCode
from lanjie.sandbox.serving import Describe, Described, WireAnswer, WireRequest, serve
from lanjie.sandbox.wirefmt import dumps, wire_time
from lanjie.sandbox.world import WorldError

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

QUERY_TYPE, SUBSCRIBE_TYPE, PUSH_TYPE = "1002", "1008", "101"

#: ShipperCode → the sandbox's canonical courier code.
SHIPPERS: dict[str, str] = {
    "ZTO": "zto", "STO": "sto", "YTO": "yto", "YD": "yunda", "SF": "shunfeng", "JTSD": "jtexpress",
    "JD": "jd", "EMS": "ems", "DBL": "debangwuliu", "UPS": "ups", "YZPY": "youzhengguonei",
}
PHONE_TAIL_SHIPPERS = frozenset({"SF"})

#: Kdniao (State, Action) for each sandbox scan; the parcel's State/StateEx are its newest scan's.
STATE_OF: dict[ScanCode, tuple[str, str]] = {
    ScanCode.ordered: ("0", "10"),  # 待揽收
    ScanCode.picked_up: ("1", "1"),  # 已揽收
    ScanCode.departed: ("2", "2"),  # 在途中
    ScanCode.arrived_hub: ("2", "2"),
    ScanCode.arrived_outlet: ("2", "201"),  # 到达派件城市
    ScanCode.out_for_delivery: ("2", "202"),  # 派件中
    ScanCode.delivered: ("3", "301"),  # 正常签收
    ScanCode.intercepted: ("4", "413"),  # 拦截
    ScanCode.return_departed: ("4", "407"),  # 退件未签收
    ScanCode.return_arrived: ("4", "407"),
    ScanCode.return_signed: ("4", "406"),  # 退件签收
    ScanCode.redirected: ("5", "5"),  # 转寄
    ScanCode.damaged: ("4", "414"),  # 破损
    ScanCode.lost: ("4", "403"),  # 超时未更新
}


class Code:
    """``ResultCode`` values (sandbox choices, see the module docstring)."""

    ok = "100"
    missing = "101"
    bad_sign = "102"
    bad_format = "103"
    bad_user = "104"
    rate_limited = "401"
    shipper_not_served = "402"
    duplicate = "403"
    no_trace = "404"
    customer_name = "405"


def data_sign(request_data: str, app_key: str) -> str:
    """Base64 of the lower-case hex MD5 (as text) of RequestData + AppKey."""
    hex_digest = hashlib.md5((request_data + app_key).encode("utf-8")).hexdigest()
    return base64.b64encode(hex_digest.encode("ascii")).decode("ascii")


def traces(parcel: Parcel) -> list[dict[str, str]]:
    return [{"AcceptTime": wire_time(scan.at), "AcceptStation": scan.context, "Remark": "",
             "Location": scan.node.city.name, "Action": STATE_OF[scan.code][1]} for scan in parcel.scans]


def tracing_data(ebusiness_id: str, shipper: str, parcel: Parcel, callback: str) -> dict[str, Any]:
    """One TracingData of a push: the parcel's full history."""
    state, state_ex = STATE_OF[parcel.last_scan.code]
    return {"EBusinessID": ebusiness_id, "OrderCode": "", "ShipperCode": shipper,
            "LogisticCode": parcel.waybill_no, "Success": True, "Reason": "", "State": state, "StateEx": state_ex,
            "Location": parcel.last_scan.node.city.name, "Traces": traces(parcel), "CallBack": callback,
            "EstimatedDeliveryTime": ""}


ACK_FIELDS = frozenset({"EBusinessID", "UpdateTime", "Success", "Reason"})


def ack_check(ebusiness_id: str) -> AckCheck:
    """The check of an acknowledgement: 2xx and exactly ``{EBusinessID, UpdateTime, Success: true, Reason}``."""

    def is_ack(status_code: int, body: bytes) -> bool:
        answer = ack_object(status_code, body)
        return (answer is not None and set(answer) == ACK_FIELDS and answer["Success"] is True
                and answer["EBusinessID"] == ebusiness_id)

    return is_ack


@dataclass
class Account:
    ebusiness_id: str
    app_key: str
    expired: bool = False
    push_url: str = ""  # the console's push address, when configured


@dataclass
class Subscription:
    ebusiness_id: str
    shipper: str
    logistic_code: str
    callback: str  # the Callback field as sent, echoed in pushes
    url: str  # where pushes go
    feed: Feed = field(default_factory=Feed)


class Refused(Exception):
    """A request refused with a Kdniao ResultCode."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://")) and len(value) > len("https://")


def _text(data: Mapping[str, Any], name: str, required: bool = True) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise Refused(Code.missing, f"缺少必要参数 {name}")
        return ""
    if not isinstance(value, str):
        raise Refused(Code.bad_format, f"参数 {name} 必须是字符串")
    return value


def _describe(method: str) -> Describe:
    def describe(wire: WireRequest) -> Described:
        try:
            data = json.loads(wire.fields.get("RequestData", ""))
        except ValueError:
            data = {}
        code = data.get("LogisticCode") if isinstance(data, dict) else None
        return Described(method, code if isinstance(code, str) else "", wire.fields.get("EBusinessID", ""))

    return describe


class KdniaoTwin:
    """Kdniao's tracking API."""

    name: ClassVar[str] = "kdniao"
    test_credentials: ClassVar[Mapping[str, str]] = {"ebusiness_id": "1700001",
                                                      "app_key": "kdniao-sandbox-app-key-0001"}

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.accounts: dict[str, Account] = {}
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # (EBusinessID, LogisticCode) → newest
        self.register_account(self.test_credentials)

    def register_account(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        """Know an account; ``push_url`` (optional) is the push address configured in Kdniao's console."""
        ebusiness_id, app_key = credentials.get("ebusiness_id", ""), credentials.get("app_key", "")
        push_url = credentials.get("push_url", "")
        if not ebusiness_id or not app_key:
            raise WorldError(422, "credentials: kdniao needs ebusiness_id and app_key")
        if push_url and not _is_url(push_url):
            raise WorldError(422, "credentials.push_url: not an http(s) URL")
        self.accounts[ebusiness_id] = Account(ebusiness_id, app_key, expired, push_url)
        return {"ebusiness_id": ebusiness_id, "expired": expired, "push_url": push_url}

    def router(self) -> APIRouter:
        router = APIRouter()
        world = self.world

        @router.post("/Ebusiness/EbusinessOrderHandle.aspx", summary="Real-time query (即时查询, 1002)")
        async def query(request: Request) -> Response:
            return await serve(world, Channel.query, request, self.query, _describe("1002"),
                               rate_limited=self.rate_limited)

        @router.post("/api/dist", summary="Track subscription (轨迹订阅, 1008)")
        async def subscribe(request: Request) -> Response:
            return await serve(world, Channel.subscribe, request, self.subscribe, _describe("1008"),
                               rate_limited=self.rate_limited)

        return router

    # ---- requests ------------------------------------------------------------------------------

    @staticmethod
    def _answer(ebusiness_id: str, code: str, reason: str, waybill_no: str = "", **extra: Any) -> WireAnswer:
        success = code in (Code.ok, Code.duplicate)
        body = {"EBusinessID": ebusiness_id, **extra, "Success": success, "ResultCode": code, "Reason": reason}
        return WireAnswer(body, code, reason, waybill_no=waybill_no)

    def rate_limited(self, wire: WireRequest) -> WireAnswer:
        return self._answer(wire.fields.get("EBusinessID", ""), Code.rate_limited, "请求过于频繁，请稍后再试")

    def _authenticated(self, wire: WireRequest, request_type: str) -> tuple[Account, dict[str, Any]]:
        fields = wire.fields
        for name in ("RequestData", "EBusinessID", "RequestType", "DataSign"):
            _text(fields, name)
        if fields.get("DataType", "2") != "2":
            raise Refused(Code.bad_format, "DataType 只支持 2（JSON）")
        account = self.accounts.get(fields["EBusinessID"])
        if account is None or account.expired:
            raise Refused(Code.bad_user, "EBusinessID 不存在或已过期")
        expected = data_sign(fields["RequestData"], account.app_key)
        if not hmac.compare_digest(expected.encode(), fields["DataSign"].encode()):
            raise Refused(Code.bad_sign, "数据验证失败：DataSign 不正确")
        if fields["RequestType"] != request_type:
            raise Refused(Code.bad_format, f"RequestType {fields['RequestType']} 不在此地址提供")
        try:
            data = json.loads(fields["RequestData"])
        except ValueError:
            raise Refused(Code.bad_format, "RequestData 不是合法的 JSON") from None
        if not isinstance(data, dict):
            raise Refused(Code.bad_format, "RequestData 必须是 JSON 对象")
        return account, data

    @staticmethod
    def _shipment(data: Mapping[str, Any]) -> tuple[str, str]:
        shipper, code = _text(data, "ShipperCode"), _text(data, "LogisticCode")
        if shipper not in SHIPPERS:
            raise Refused(Code.shipper_not_served, f"不支持的快递公司编码 {shipper}")
        customer = _text(data, "CustomerName", required=False)
        if shipper in PHONE_TAIL_SHIPPERS and not (len(customer) == 4 and customer.isdigit()):
            raise Refused(Code.customer_name, "该快递公司需要 CustomerName（手机号后四位）")
        return shipper, code

    def _parcel(self, shipper: str, code: str) -> Parcel | None:
        parcel = self.world.parcels.get(code)
        return parcel if parcel is not None and parcel.carrier_code == SHIPPERS.get(shipper) else None

    def query(self, wire: WireRequest) -> WireAnswer:
        """1002: the parcel's trace now."""
        try:
            account, data = self._authenticated(wire, QUERY_TYPE)
            shipper, code = self._shipment(data)
        except Refused as exc:
            return self._answer(wire.fields.get("EBusinessID", ""), exc.code, exc.reason)
        order_code = data.get("OrderCode") if isinstance(data.get("OrderCode"), str) else ""
        head = {"OrderCode": order_code, "ShipperCode": shipper, "LogisticCode": code}
        parcel = self._parcel(shipper, code)
        if parcel is None or not parcel.scans:
            answer = self._answer(account.ebusiness_id, Code.no_trace, "暂无轨迹信息", code, **head)
            return WireAnswer({**answer.body, "State": "0", "Traces": []}, answer.code, answer.message,
                              waybill_no=code)
        state, state_ex = STATE_OF[parcel.last_scan.code]
        answer = self._answer(account.ebusiness_id, Code.ok, "", code, **head)
        body = {**answer.body, "State": state, "StateEx": state_ex, "Location": parcel.last_scan.node.city.name,
                "Traces": traces(parcel)}
        return WireAnswer(body, Code.ok, "ok", waybill_no=code)

    def subscribe(self, wire: WireRequest) -> WireAnswer:
        """1008: push this waybill's traces as they change."""
        try:
            account, data = self._authenticated(wire, SUBSCRIBE_TYPE)
            shipper, code = self._shipment(data)
            callback = _text(data, "Callback", required=False)
            url = account.push_url or (callback if _is_url(callback) else "")
            if not url:
                raise Refused(Code.missing, "缺少推送地址：Callback 不是 http(s) 地址，控制台也未配置")
        except Refused as exc:
            return self._answer(wire.fields.get("EBusinessID", ""), exc.code, exc.reason)
        now = self.world.clock.now()
        extra = {"UpdateTime": wire_time(now), "EstimatedDeliveryTime": ""}
        current = self.subscriptions.get((account.ebusiness_id, code))
        if current is not None and current.feed.active:
            return self._answer(account.ebusiness_id, Code.duplicate, "重复订阅", code, **extra)
        subscription = Subscription(account.ebusiness_id, shipper, code, callback, url)
        self.subscriptions[(account.ebusiness_id, code)] = subscription
        first_push(self.world, self._parcel(shipper, code), lambda: self._push_if_active(subscription))
        return self._answer(account.ebusiness_id, Code.ok, "", code, **extra)

    # ---- pushes --------------------------------------------------------------------------------

    def on_tracking(self, parcel: Parcel) -> None:
        for subscription in subscribed(self.subscriptions, parcel.waybill_no):
            if subscription.feed.active and self._parcel(subscription.shipper, subscription.logistic_code) is parcel:
                self._push(subscription, parcel)

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """Kdniao takes no intercepts, so it has no outcome to report."""

    def _push_if_active(self, subscription: Subscription) -> None:
        parcel = self._parcel(subscription.shipper, subscription.logistic_code)
        if subscription.feed.active and parcel is not None and parcel.scans:
            self._push(subscription, parcel)

    def _push(self, subscription: Subscription, parcel: Parcel) -> None:
        account = self.accounts[subscription.ebusiness_id]
        request_data = dumps({
            "EBusinessID": account.ebusiness_id, "PushTime": wire_time(self.world.clock.now()), "Count": "1",
            "Data": [tracing_data(account.ebusiness_id, subscription.shipper, parcel, subscription.callback)],
        })
        body = PushBody.form({"RequestData": request_data, "DataSign": data_sign(request_data, account.app_key),
                              "RequestType": PUSH_TYPE})
        subscription.feed.send_history(
            self.world, parcel, url=subscription.url, body=body,
            summary=f"State {STATE_OF[parcel.last_scan.code][0]}, {len(parcel.scans)} traces",
            ack=ack_check(account.ebusiness_id))
