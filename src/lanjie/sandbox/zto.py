"""ZTO (中通) as the sandbox plays it: japi track subscription and query, and per-event track pushes.

Served under ``/zto`` at ZTO's own paths: ``POST /{api name}`` with a JSON body and the headers
``x-appKey`` and ``x-dataDigest`` = Base64(raw MD5(body + appSecret)), checked over the exact bytes
received. Written from the recipe (carrier-protocols.md §5, §17), independently of lanjie's adapter.

Documented and followed: the answer envelope ``{result, message, status, statusCode}``, ``SYS000`` on
success, ``S206`` rate limit ("api qos limit"), ``S207`` no such API, ``S208`` missing parameter, ``S210``
no permission, ``S211`` bad signature, ``E413`` no phone tail, ``E416`` not a ZTO waybill number; the
push form (``data``, ``data_digest``, ``company_id``, ``msg_type=Traces``), one event
per push, with the documented actions.

**Sandbox choices** (ZTO does not publish these):

* the subscription names its push URL in ``callbackUrl``; a repeat replaces it and answers SYS000;
* a new subscription first gets the scans so far, one push each, oldest first;
* ``mobilePhone`` (four digits) is required to subscribe and to query; it is not matched against the
  parcel's phones (so ``E409`` is never answered), because sandbox parcels and lanjie's shipments are
  made apart and need not share a phone number;
* the query's ``result`` is the list of trace items oldest first, shaped like a push's ``data``
  (an unknown waybill: an empty list); an unknown or expired appKey answers ``S210``;
* actions ``RETURN``, ``RETURN_SIGNED`` and ``PROBLEM`` for the return leg and problem parcels; the
  label-printed scan has no action and is neither pushed nor listed;
* the push acknowledgement ``{"status": true, …}`` (anything else is retried); data_digest uses the
  app's secret and company_id is the appKey.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from lanjie.sandbox.feeds import Feed, ack_object, first_push, subscribed
from lanjie.sandbox.model import Channel, InterceptTask, Parcel, Scan
from lanjie.sandbox.push import PushBody
from lanjie.sandbox.route import ScanCode
from lanjie.sandbox.serving import Describe, Described, WireAnswer, WireRequest, serve
from lanjie.sandbox.wirefmt import dumps, md5_base64, wire_time
from lanjie.sandbox.world import SandboxWorld, WorldError

CARRIER = "zto"
SUBSCRIBE_API = "zto.merchant.waybill.track.subsrcibe"  # sic
QUERY_API = "zto.merchant.waybill.track.query"

#: ZTO's action for each scan; None: ZTO's trace has no such event.
ACTION_OF: dict[ScanCode, str | None] = {
    ScanCode.ordered: None,
    ScanCode.picked_up: "GOT",
    ScanCode.departed: "DEPARTURE",
    ScanCode.arrived_hub: "ARRIVAL",
    ScanCode.arrived_outlet: "ARRIVAL",
    ScanCode.out_for_delivery: "DISPATCH",
    ScanCode.delivered: "SIGNED",
    ScanCode.intercepted: "RETURN",
    ScanCode.return_departed: "RETURN",
    ScanCode.return_arrived: "RETURN",
    ScanCode.return_signed: "RETURN_SIGNED",
    ScanCode.redirected: "DEPARTURE",
    ScanCode.damaged: "PROBLEM",
    ScanCode.lost: "PROBLEM",
}




def trace_item(waybill_no: str, scan: Scan) -> dict[str, str] | None:
    """A scan as ZTO's trace item (push ``data``, query item); None for a scan ZTO does not show."""
    action = ACTION_OF[scan.code]
    if action is None:
        return None
    return {"billCode": waybill_no, "action": action, "actionTime": wire_time(scan.at), "desc": scan.context,
            "facilityName": scan.node.name, "city": scan.node.city.name}


def is_ack(status_code: int, body: bytes) -> bool:
    """True for a 2xx answer whose JSON object says ``status: true``."""
    answer = ack_object(status_code, body)
    return answer is not None and answer.get("status") is True


def _answer(code: str, message: str, result: Any = None, waybill_no: str = "") -> WireAnswer:
    ok = code == "SYS000"
    return WireAnswer({"result": result, "message": message, "status": ok, "statusCode": code}, code, message,
                      waybill_no=waybill_no)


class Refused(Exception):
    """A request the twin answers with an error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.answer = _answer(code, message)


@dataclass
class Account:
    app_key: str
    app_secret: str
    expired: bool = False


@dataclass
class Subscription:
    """One app's subscription to one waybill, and the progress of its pushes."""

    app_key: str
    bill_code: str
    push_url: str
    feed: Feed = field(default_factory=Feed)


class ZTOTwin:
    """ZTO's japi and its track pushes."""

    name: ClassVar[str] = CARRIER
    test_credentials: ClassVar[Mapping[str, str]] = {"app_key": "ZTO_SANDBOX_APPKEY",
                                                     "app_secret": "ZTO_SANDBOX_APPSECRET"}

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.accounts: dict[str, Account] = {}
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # (app_key, billCode)
        self.register_account(self.test_credentials)

    def register_account(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        missing = [name for name in ("app_key", "app_secret") if not credentials.get(name)]
        if missing:
            raise WorldError(422, f"credentials: zto needs {', '.join(missing)}")
        self.accounts[credentials["app_key"]] = Account(credentials["app_key"], credentials["app_secret"], expired)
        return {"app_key": credentials["app_key"], "expired": expired}

    # ---- routes ----------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter()

        def describe(api: str) -> Describe:
            def described(wire: WireRequest) -> Described:
                try:
                    body = wire.json()
                except ValueError:
                    body = {}
                bill_code = body.get("billCode") if isinstance(body, dict) else None
                return Described(api, bill_code if isinstance(bill_code, str) else "",
                                 wire.headers.get("x-appkey", ""))
            return described

        def limited(_wire: WireRequest) -> WireAnswer:
            return _answer("S206", "api qos limit")

        @router.post(f"/{SUBSCRIBE_API}", summary="Track subscription (物流轨迹订阅)")
        async def subscribe(request: Request) -> Response:
            return await serve(self.world, Channel.subscribe, request, self.subscribe, describe(SUBSCRIBE_API),
                               rate_limited=limited)

        @router.post(f"/{QUERY_API}", summary="Track query (物流轨迹查询)")
        async def query(request: Request) -> Response:
            return await serve(self.world, Channel.query, request, self.query, describe(QUERY_API),
                               rate_limited=limited)

        @router.post("/{api_name}", summary="Any other japi name: S207 (API不存在)")
        async def unknown(api_name: str, request: Request) -> Response:
            return await serve(self.world, Channel.query, request,
                               lambda _wire: _answer("S207", "API不存在"), describe(api_name))

        return router

    # ---- operations ------------------------------------------------------------------------------

    def _authenticated(self, wire: WireRequest) -> tuple[Account, dict[str, Any]]:
        """The calling account and the body, or Refused with the code ZTO answers."""
        app_key, given = wire.headers.get("x-appkey", ""), wire.headers.get("x-datadigest", "")
        if not app_key:
            raise Refused("S208", "x-appKey不能为空")
        if not given:
            raise Refused("S208", "x-dataDigest不能为空")
        account = self.accounts.get(app_key)
        if account is None or account.expired:
            raise Refused("S210", "无权限访问")
        if not hmac.compare_digest(md5_base64(wire.body, account.app_secret).encode(), given.encode()):
            raise Refused("S211", "签名错误")
        try:
            body = wire.json()
        except ValueError:
            raise Refused("S208", "body不是合法的JSON") from None
        if not isinstance(body, dict):
            raise Refused("S208", "body必须是JSON对象")
        return account, body

    def _waybill(self, body: Mapping[str, Any]) -> tuple[str, Parcel | None]:
        """The billCode and its parcel if the sandbox knows it, after the phone-tail check."""
        bill_code = body.get("billCode")
        if not isinstance(bill_code, str) or not bill_code:
            raise Refused("S208", "billCode不能为空")
        phone = body.get("mobilePhone")
        if not isinstance(phone, str) or len(phone) != 4 or not phone.isdigit():
            raise Refused("E413", "鉴权失败,请输入收寄人任一方电话号码后4位")
        parcel = self.world.parcels.get(bill_code)
        if parcel is not None and parcel.carrier_code != CARRIER:
            raise Refused("E416", "不符合中通运单号规则校验")
        return bill_code, parcel

    def subscribe(self, wire: WireRequest) -> WireAnswer:
        """``zto.merchant.waybill.track.subsrcibe``: remember the push URL, push what is known so far."""
        try:
            account, body = self._authenticated(wire)
            bill_code, parcel = self._waybill(body)
            url = body.get("callbackUrl")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise Refused("S208", "callbackUrl不能为空")
        except Refused as refused:
            return refused.answer
        key = (account.app_key, bill_code)
        subscription = self.subscriptions.get(key)
        if subscription is None:
            subscription = self.subscriptions[key] = Subscription(account.app_key, bill_code, url)
        subscription.push_url = url
        first_push(self.world, parcel, lambda: self._push_new(subscription))
        return _answer("SYS000", "操作成功", waybill_no=bill_code)

    def query(self, wire: WireRequest) -> WireAnswer:
        """``zto.merchant.waybill.track.query``: the trace so far, oldest first."""
        try:
            _account, body = self._authenticated(wire)
            bill_code, parcel = self._waybill(body)
        except Refused as refused:
            return refused.answer
        scans = parcel.scans if parcel is not None else []
        items = [item for scan in scans if (item := trace_item(bill_code, scan)) is not None]
        return _answer("SYS000", "操作成功", items, waybill_no=bill_code)

    # ---- pushes ----------------------------------------------------------------------------------

    def on_tracking(self, parcel: Parcel) -> None:
        if parcel.carrier_code == CARRIER:
            for subscription in subscribed(self.subscriptions, parcel.waybill_no):
                self._push_new(subscription)

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """ZTO intercepts go through Kuaidi100, whose twin reports them: nothing to do here."""

    def _push_new(self, subscription: Subscription) -> None:
        """Push each scan of the parcel not pushed to this subscription yet, one event per push."""
        parcel = self.world.parcels.get(subscription.bill_code)
        account = self.accounts.get(subscription.app_key)
        if parcel is None or parcel.carrier_code != CARRIER or account is None:
            return
        for scan in subscription.feed.new_scans(parcel):
            item = trace_item(parcel.waybill_no, scan)
            if item is None:
                continue
            data = dumps(item)
            body = PushBody.form({"data": data, "data_digest": md5_base64(data.encode("utf-8"), account.app_secret),
                                  "company_id": account.app_key, "msg_type": "Traces"})
            subscription.feed.send(self.world, waybill_no=parcel.waybill_no, url=subscription.push_url, body=body,
                                   summary=f"{item['action']} {item['actionTime']}", ack=is_ack)
