"""STO (申通) as the sandbox plays it: the link gateway's trace subscription and query, per-event trace pushes.

Served under ``/sto`` at ``/gateway/link.do`` (form POST or GET) with the documented parameters
``api_name``, ``content``, ``data_digest`` = Base64(raw MD5(content + secretKey)), ``from_appkey``,
``from_code``, ``to_appkey`` and ``to_code`` (carrier-protocols.md §7, §17); the digest is checked over
the ``content`` value received. Written from the recipe, independently of lanjie's adapter.

**Sandbox choices** (STO publishes none of these):

* the gateway path, and the APIs ``STO_TRACE_QUERY_COMMON`` (content ``{"waybillNoList": [...]}``, to
  ``sto_trace_query``) and ``STO_TRACE_PLATFORM_SUBSCRIBE`` (content ``{"waybillNo", "callbackUrl"}``,
  to ``sto_trace_platform``);
* the answer ``{success, errorCode, errorMsg, data}`` and its codes: ``S01`` bad digest, ``S02`` missing
  or malformed field, ``S03`` unknown or expired from_appkey (or a from_code not its own), ``S04`` no
  such api_name (or to_appkey / to_code not its own), ``S05`` rate limited, ``B01`` no such waybill
  (a query of a waybill the sandbox does not know; any call naming another carrier's waybill);
* a query's ``data`` maps each waybill to its trace items oldest first (``waybillNo``, ``scanType``,
  ``opTime``, ``memo``, ``opOrgName``, ``opOrgCityName``); the label-printed scan is not listed;
* a subscription to a waybill not known yet is accepted and pushed once it has scans; a new
  subscription first gets the scans so far, one push each; a repeat replaces the push URL;
* the push: a form of ``api_name=STO_TRACE_PUSH``, ``content`` (one trace item) and ``data_digest``,
  acknowledged with ``{"success": true}`` (anything else is retried);
* the scan types ``退回签收`` and ``转寄`` next to STO's own 收件/发件/到件/派件/签收/退回/问题件.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from lanjie.sandbox.feeds import Feed, ack_object, first_push, subscribed
from lanjie.sandbox.model import Channel, InterceptTask, Parcel, Scan
from lanjie.sandbox.push import PushBody
from lanjie.sandbox.route import ScanCode
from lanjie.sandbox.serving import Described, WireAnswer, WireRequest, read, serve
from lanjie.sandbox.wirefmt import dumps, md5_base64, wire_time
from lanjie.sandbox.world import SandboxWorld, WorldError

CARRIER = "sto"
GATEWAY_PATH = "/gateway/link.do"
QUERY_API = "STO_TRACE_QUERY_COMMON"
SUBSCRIBE_API = "STO_TRACE_PLATFORM_SUBSCRIBE"
PUSH_API = "STO_TRACE_PUSH"
#: api_name → the channel it belongs to and the to_appkey (= to_code) that routes it.
APIS: dict[str, tuple[Channel, str]] = {
    QUERY_API: (Channel.query, "sto_trace_query"),
    SUBSCRIBE_API: (Channel.subscribe, "sto_trace_platform"),
}
REQUIRED = ("api_name", "content", "data_digest", "from_appkey", "from_code", "to_appkey", "to_code")

#: STO's scan type for each scan; None: STO's trace has no such event.
SCAN_TYPE_OF: dict[ScanCode, str | None] = {
    ScanCode.ordered: None,
    ScanCode.picked_up: "收件",
    ScanCode.departed: "发件",
    ScanCode.arrived_hub: "到件",
    ScanCode.arrived_outlet: "到件",
    ScanCode.out_for_delivery: "派件",
    ScanCode.delivered: "签收",
    ScanCode.intercepted: "退回",
    ScanCode.return_departed: "退回",
    ScanCode.return_arrived: "退回",
    ScanCode.return_signed: "退回签收",
    ScanCode.redirected: "转寄",
    ScanCode.damaged: "问题件",
    ScanCode.lost: "问题件",
}




def trace_item(waybill_no: str, scan: Scan) -> dict[str, str] | None:
    """A scan as STO's trace item (push ``content``, query item); None for a scan STO does not show."""
    scan_type = SCAN_TYPE_OF[scan.code]
    if scan_type is None:
        return None
    return {"waybillNo": waybill_no, "scanType": scan_type, "opTime": wire_time(scan.at), "memo": scan.context,
            "opOrgName": scan.node.name, "opOrgCityName": scan.node.city.name}


def is_ack(status_code: int, body: bytes) -> bool:
    """True for a 2xx answer whose JSON object says ``success: true``."""
    answer = ack_object(status_code, body)
    return answer is not None and answer.get("success") is True


def _answer(code: str, message: str, data: Any = None, waybill_no: str = "") -> WireAnswer:
    body = {"success": not code, "errorCode": code, "errorMsg": message, "data": data}
    return WireAnswer(body, code or "success", message, waybill_no=waybill_no)


class Refused(Exception):
    """A request the twin answers with an error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.answer = _answer(code, message)


@dataclass
class Account:
    from_appkey: str
    from_code: str
    secret_key: str
    expired: bool = False


@dataclass
class Subscription:
    """One account's subscription to one waybill, and the progress of its pushes."""

    from_appkey: str
    waybill_no: str
    push_url: str
    feed: Feed = field(default_factory=Feed)


class STOTwin:
    """STO's link gateway and its trace pushes."""

    name: ClassVar[str] = CARRIER
    test_credentials: ClassVar[Mapping[str, str]] = {"from_appkey": "STO_SANDBOX_APPKEY",
                                                     "from_code": "STO_SANDBOX_CODE",
                                                     "secret_key": "STO_SANDBOX_SECRETKEY"}

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.accounts: dict[str, Account] = {}
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # (from_appkey, waybillNo)
        self.register_account(self.test_credentials)

    def register_account(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        missing = [name for name in ("from_appkey", "from_code", "secret_key") if not credentials.get(name)]
        if missing:
            raise WorldError(422, f"credentials: sto needs {', '.join(missing)}")
        account = Account(credentials["from_appkey"], credentials["from_code"], credentials["secret_key"], expired)
        self.accounts[account.from_appkey] = account
        return {"from_appkey": account.from_appkey, "from_code": account.from_code, "expired": expired}

    # ---- routes ----------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter()

        def describe(wire: WireRequest) -> Described:
            api_name = wire.fields.get("api_name", "")
            try:
                content = json.loads(wire.fields.get("content", ""))
            except ValueError:
                content = {}
            waybill_no: object = ""
            if isinstance(content, dict):
                listed = content.get("waybillNoList")
                waybill_no = listed[0] if isinstance(listed, list) and listed else content.get("waybillNo", "")
            return Described(api_name, waybill_no if isinstance(waybill_no, str) else "",
                             wire.fields.get("from_appkey", ""))

        @router.api_route(GATEWAY_PATH, methods=["GET", "POST"], summary="STO link gateway (trace APIs)")
        async def gateway(request: Request) -> Response:
            api_name = (await read(request)).fields.get("api_name", "")
            channel = APIS.get(api_name, (Channel.query, ""))[0]
            return await serve(self.world, channel, request, self.operate, describe,
                               rate_limited=lambda _wire: _answer("S05", "调用过于频繁，请稍后再试"))

        return router

    # ---- operations ------------------------------------------------------------------------------

    def operate(self, wire: WireRequest) -> WireAnswer:
        """One gateway call: check the envelope and digest, then run the API it names."""
        try:
            api_name, content = self._authenticated(wire.fields)
            if api_name == SUBSCRIBE_API:
                return self._subscribe(wire.fields["from_appkey"], content)
            return self._query(content)
        except Refused as refused:
            return refused.answer

    def _authenticated(self, fields: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        for name in REQUIRED:
            if not fields.get(name):
                raise Refused("S02", f"缺少参数 {name}")
        api = APIS.get(fields["api_name"])
        if api is None:
            raise Refused("S04", f"api_name 不存在：{fields['api_name']}")
        if fields["to_appkey"] != api[1] or fields["to_code"] != api[1]:
            raise Refused("S04", "to_appkey / to_code 与 api_name 不匹配")
        account = self.accounts.get(fields["from_appkey"])
        if account is None or account.expired or account.from_code != fields["from_code"]:
            raise Refused("S03", "from_appkey 无效或无权限")
        expected = md5_base64(fields["content"].encode("utf-8"), account.secret_key)
        if not hmac.compare_digest(expected.encode(), fields["data_digest"].encode()):
            raise Refused("S01", "data_digest 校验失败")
        try:
            content = json.loads(fields["content"])
        except ValueError:
            raise Refused("S02", "content 不是合法的 JSON") from None
        if not isinstance(content, dict):
            raise Refused("S02", "content 必须是 JSON 对象")
        return fields["api_name"], content

    def _parcel(self, waybill_no: str) -> Parcel | None:
        """The parcel of an STO waybill, None when unknown; another carrier's waybill is refused."""
        parcel = self.world.parcels.get(waybill_no)
        if parcel is not None and parcel.carrier_code != CARRIER:
            raise Refused("B01", f"运单号不存在：{waybill_no}")
        return parcel

    def _subscribe(self, from_appkey: str, content: Mapping[str, Any]) -> WireAnswer:
        waybill_no, url = content.get("waybillNo"), content.get("callbackUrl")
        if not isinstance(waybill_no, str) or not waybill_no:
            raise Refused("S02", "缺少参数 waybillNo")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Refused("S02", "callbackUrl 不是 http(s) 地址")
        parcel = self._parcel(waybill_no)
        subscription = self.subscriptions.get((from_appkey, waybill_no))
        if subscription is None:
            subscription = self.subscriptions[(from_appkey, waybill_no)] = Subscription(from_appkey, waybill_no, url)
        subscription.push_url = url
        first_push(self.world, parcel, lambda: self._push_new(subscription))
        return _answer("", "", waybill_no=waybill_no)

    def _query(self, content: Mapping[str, Any]) -> WireAnswer:
        numbers = content.get("waybillNoList")
        if not isinstance(numbers, list) or not numbers or not all(isinstance(n, str) and n for n in numbers):
            raise Refused("S02", "waybillNoList 必须是非空的运单号列表")
        data: dict[str, list[dict[str, str]]] = {}
        for number in numbers:
            parcel = self._parcel(number)
            if parcel is not None:
                data[number] = [item for scan in parcel.scans if (item := trace_item(number, scan)) is not None]
        if not data:
            raise Refused("B01", f"运单号不存在：{', '.join(numbers)}")
        return _answer("", "", data, waybill_no=numbers[0])

    # ---- pushes ----------------------------------------------------------------------------------

    def on_tracking(self, parcel: Parcel) -> None:
        if parcel.carrier_code == CARRIER:
            for subscription in subscribed(self.subscriptions, parcel.waybill_no):
                self._push_new(subscription)

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """STO intercepts go through Kuaidi100, whose twin reports them: nothing to do here."""

    def _push_new(self, subscription: Subscription) -> None:
        """Push each scan of the parcel not pushed to this subscription yet, one event per push."""
        parcel = self.world.parcels.get(subscription.waybill_no)
        account = self.accounts.get(subscription.from_appkey)
        if parcel is None or parcel.carrier_code != CARRIER or account is None:
            return
        for scan in subscription.feed.new_scans(parcel):
            item = trace_item(parcel.waybill_no, scan)
            if item is None:
                continue
            content = dumps(item)
            body = PushBody.form({"api_name": PUSH_API, "content": content,
                                  "data_digest": md5_base64(content.encode("utf-8"), account.secret_key)})
            subscription.feed.send(self.world, waybill_no=parcel.waybill_no, url=subscription.push_url, body=body,
                                   summary=f"{item['scanType']} {item['opTime']}", ack=is_ack)
