"""J&T China (极兔) as the sandbox plays it: trace subscription and query, and per-event trace pushes.

Served under ``/jtexpress`` (the base ``…/webopenplatformapi``): a form field ``bizContent`` with the
headers ``apiAccount``, ``timestamp`` and ``digest`` = Base64(raw MD5(bizContent + privateKey)), checked
over the ``bizContent`` value received; subscriptions name a ``backUrl``; trace nodes 1–14
(carrier-protocols.md §6, §17, §18). Written from the recipe, independently of lanjie's adapter.

**Sandbox choices** (J&T publishes none of these):

* the paths ``/api/trace/subscribe`` and ``/api/logistics/trace`` (those of a public third-party client);
  subscribe bizContent ``{"id": apiAccount, "list": [{traceNode: "1&2&…", waybillCode, backUrl}]}``,
  query bizContent ``{"billCodes": "…"}`` (comma-separated);
* the answer ``{code, msg, data}`` with ``"1"`` success and the error codes ``145003051`` / ``145003052``
  / ``145003053`` (apiAccount / digest / timestamp header empty), ``145003010`` unknown account,
  ``145003012`` expired account, ``145003030`` bad digest, ``145003050`` illegal parameters,
  ``145003060`` rate limited;
* a query's ``data`` is ``[{billCode, details: [...]}]`` with the details oldest first, naming their node
  by ``scanType``; a waybill J&T does not know (or another carrier's) has no details;
* nodes: pickup 1, departure 3, arrival at a hub 4, arrival at the destination outlet 6 (入库),
  out for delivery 5 (出仓), signed 10, every return scan 14 (J&T has no return-signed node),
  a redirect 13, damage or loss 11; the label-printed scan has no node;
* a subscription to a waybill not known yet is accepted and pushed once it has scans; a new
  subscription first gets the scans so far; a repeat replaces the nodes and the backUrl; only the
  subscribed nodes are pushed;
* the push: a form ``bizContent`` (one trace item with ``billCode`` and ``traceNode``) with the digest
  headers, acknowledged with ``{"code": "1", …}`` (anything else is retried).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from lanjie.sandbox.feeds import Feed, ack_object, first_push, subscribed
from lanjie.sandbox.model import Channel, InterceptTask, Parcel, Scan
from lanjie.sandbox.push import PushBody
from lanjie.sandbox.route import ScanCode
from lanjie.sandbox.serving import Describe, Described, WireAnswer, WireRequest, serve
from lanjie.sandbox.wirefmt import dumps, md5_base64, wire_time
from lanjie.sandbox.world import SandboxWorld, WorldError

CARRIER = "jtexpress"
SUBSCRIBE_PATH = "/api/trace/subscribe"
QUERY_PATH = "/api/logistics/trace"
NODES = frozenset(str(node) for node in range(1, 15))

#: J&T's trace node and its name for each scan; None: J&T's trace has no such event.
NODE_OF: dict[ScanCode, tuple[str, str] | None] = {
    ScanCode.ordered: None,
    ScanCode.picked_up: ("1", "快件揽收"),
    ScanCode.departed: ("3", "发件扫描"),
    ScanCode.arrived_hub: ("4", "到件扫描"),
    ScanCode.arrived_outlet: ("6", "入库扫描"),
    ScanCode.out_for_delivery: ("5", "出仓扫描"),
    ScanCode.delivered: ("10", "快件签收"),
    ScanCode.intercepted: ("14", "退件扫描"),
    ScanCode.return_departed: ("14", "退件扫描"),
    ScanCode.return_arrived: ("14", "退件扫描"),
    ScanCode.return_signed: ("14", "退件扫描"),
    ScanCode.redirected: ("13", "其他扫描"),
    ScanCode.damaged: ("11", "问题件扫描"),
    ScanCode.lost: ("11", "问题件扫描"),
}




def millis(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def detail(scan: Scan) -> dict[str, str] | None:
    """A scan as a query's trace detail (its node named by ``scanType``); None for a scan J&T does not show."""
    node = NODE_OF[scan.code]
    if node is None:
        return None
    return {"scanTime": wire_time(scan.at), "scanType": node[1], "desc": scan.context,
            "scanNetworkName": scan.node.name, "scanNetworkCity": scan.node.city.name}


def is_ack(status_code: int, body: bytes) -> bool:
    """True for a 2xx answer whose JSON object says ``code: "1"``."""
    answer = ack_object(status_code, body)
    return answer is not None and str(answer.get("code")) == "1"


def _answer(code: str, message: str, data: Any = None, waybill_no: str = "") -> WireAnswer:
    return WireAnswer({"code": code, "msg": message, "data": data}, code, message, waybill_no=waybill_no)


class Refused(Exception):
    """A request the twin answers with an error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.answer = _answer(code, message)


@dataclass
class Account:
    api_account: str
    private_key: str
    expired: bool = False


@dataclass
class Subscription:
    """One account's subscription to one waybill, and the progress of its pushes."""

    api_account: str
    waybill_no: str
    back_url: str
    nodes: frozenset[str]
    feed: Feed = field(default_factory=Feed)


class JTTwin:
    """J&T China's open platform and its trace pushes."""

    name: ClassVar[str] = CARRIER
    test_credentials: ClassVar[Mapping[str, str]] = {"api_account": "178337126125932605",
                                                     "private_key": "JT_SANDBOX_PRIVATEKEY"}

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.accounts: dict[str, Account] = {}
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # (apiAccount, waybillCode)
        self.register_account(self.test_credentials)

    def register_account(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        missing = [name for name in ("api_account", "private_key") if not credentials.get(name)]
        if missing:
            raise WorldError(422, f"credentials: jtexpress needs {', '.join(missing)}")
        self.accounts[credentials["api_account"]] = Account(credentials["api_account"], credentials["private_key"],
                                                            expired)
        return {"api_account": credentials["api_account"], "expired": expired}

    # ---- routes ----------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter()

        def describe(method: str) -> Describe:
            def described(wire: WireRequest) -> Described:
                try:
                    biz = json.loads(wire.fields.get("bizContent", ""))
                except ValueError:
                    biz = {}
                waybill_no: object = ""
                if isinstance(biz, dict):
                    listed = biz.get("list")
                    first = listed[0] if isinstance(listed, list) and listed else {}
                    waybill_no = first.get("waybillCode", "") if isinstance(first, dict) else biz.get("billCodes", "")
                return Described(method, waybill_no if isinstance(waybill_no, str) else "",
                                 wire.headers.get("apiaccount", ""))
            return described

        def limited(_wire: WireRequest) -> WireAnswer:
            return _answer("145003060", "请求过于频繁，请稍后再试")

        @router.post(SUBSCRIBE_PATH, summary="Trace subscription (轨迹订阅)")
        async def subscribe(request: Request) -> Response:
            return await serve(self.world, Channel.subscribe, request, self.subscribe, describe("trace/subscribe"),
                               rate_limited=limited)

        @router.post(QUERY_PATH, summary="Trace query (轨迹查询)")
        async def query(request: Request) -> Response:
            return await serve(self.world, Channel.query, request, self.query, describe("logistics/trace"),
                               rate_limited=limited)

        return router

    # ---- operations ------------------------------------------------------------------------------

    def _authenticated(self, wire: WireRequest) -> tuple[Account, dict[str, Any]]:
        """The calling account and the bizContent, or Refused with the code J&T answers."""
        headers = wire.headers
        for name, code in (("apiaccount", "145003051"), ("digest", "145003052"), ("timestamp", "145003053")):
            if not headers.get(name):
                raise Refused(code, f"{name} is empty")
        account = self.accounts.get(headers["apiaccount"])
        if account is None:
            raise Refused("145003010", "API account does not exist")
        if account.expired:
            raise Refused("145003012", "API account has no interface permissions")
        biz = wire.fields.get("bizContent")
        if not biz:
            raise Refused("145003050", "Illegal parameters: bizContent is empty")
        if not hmac.compare_digest(md5_base64(biz.encode("utf-8"), account.private_key).encode(),
                                   headers["digest"].encode()):
            raise Refused("145003030", "headers signature verification failed")
        try:
            content = json.loads(biz)
        except ValueError:
            raise Refused("145003050", "Illegal parameters: bizContent is not JSON") from None
        if not isinstance(content, dict):
            raise Refused("145003050", "Illegal parameters: bizContent is not an object")
        return account, content

    def subscribe(self, wire: WireRequest) -> WireAnswer:
        """``/api/trace/subscribe``: remember each waybill's nodes and backUrl, push what is known so far."""
        try:
            account, biz = self._authenticated(wire)
            if "id" in biz and str(biz["id"]) != account.api_account:
                raise Refused("145003050", "Illegal parameters: id is not the apiAccount")
            items = biz.get("list")
            if not isinstance(items, list) or not items:
                raise Refused("145003050", "Illegal parameters: list is empty")
            wanted = [self._subscription_item(item) for item in items]
        except Refused as refused:
            return refused.answer
        for waybill_no, nodes, url in wanted:
            key = (account.api_account, waybill_no)
            subscription = self.subscriptions.get(key)
            if subscription is None:
                subscription = self.subscriptions[key] = Subscription(account.api_account, waybill_no, url, nodes)
            subscription.back_url, subscription.nodes = url, nodes
            first_push(self.world, self.world.parcels.get(waybill_no), lambda s=subscription: self._push_new(s))
        return _answer("1", "success", {"list": []}, waybill_no=wanted[0][0])

    @staticmethod
    def _subscription_item(item: object) -> tuple[str, frozenset[str], str]:
        if not isinstance(item, dict):
            raise Refused("145003050", "Illegal parameters: a list item is not an object")
        waybill_no, url, nodes = item.get("waybillCode"), item.get("backUrl"), item.get("traceNode")
        if not isinstance(waybill_no, str) or not waybill_no:
            raise Refused("145003050", "Illegal parameters: waybillCode is empty")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Refused("145003050", "Illegal parameters: backUrl is not an http(s) URL")
        wanted = frozenset(nodes.split("&")) if isinstance(nodes, str) else frozenset()
        if not wanted or not wanted <= NODES:
            raise Refused("145003050", "Illegal parameters: traceNode must be nodes 1-14 joined by &")
        return waybill_no, wanted, url

    def query(self, wire: WireRequest) -> WireAnswer:
        """``/api/logistics/trace``: each waybill's details so far, oldest first."""
        try:
            _account, biz = self._authenticated(wire)
            codes = biz.get("billCodes")
            if not isinstance(codes, str) or not codes.strip():
                raise Refused("145003050", "Illegal parameters: billCodes is empty")
        except Refused as refused:
            return refused.answer
        data = []
        for waybill_no in (code.strip() for code in codes.split(",") if code.strip()):
            parcel = self.world.parcels.get(waybill_no)
            scans = parcel.scans if parcel is not None and parcel.carrier_code == CARRIER else []
            data.append({"billCode": waybill_no, "details": [d for scan in scans if (d := detail(scan)) is not None]})
        return _answer("1", "success", data, waybill_no=data[0]["billCode"] if data else "")

    # ---- pushes ----------------------------------------------------------------------------------

    def on_tracking(self, parcel: Parcel) -> None:
        if parcel.carrier_code == CARRIER:
            for subscription in subscribed(self.subscriptions, parcel.waybill_no):
                self._push_new(subscription)

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """J&T intercepts go through Kuaidi100, whose twin reports them: nothing to do here."""

    def _push_new(self, subscription: Subscription) -> None:
        """Push each subscribed-node scan of the parcel not pushed yet, one event per push."""
        parcel = self.world.parcels.get(subscription.waybill_no)
        account = self.accounts.get(subscription.api_account)
        if parcel is None or parcel.carrier_code != CARRIER or account is None:
            return
        for scan in subscription.feed.new_scans(parcel):
            node, item = NODE_OF[scan.code], detail(scan)
            if node is None or item is None or node[0] not in subscription.nodes:
                continue
            biz = dumps({"billCode": parcel.waybill_no, "traceNode": node[0], **item})
            signature = md5_base64(biz.encode("utf-8"), account.private_key)
            headers = {"apiAccount": account.api_account, "digest": signature,
                       "timestamp": millis(self.world.clock.now())}
            body = PushBody.form({"bizContent": biz}, headers)
            subscription.feed.send(self.world, waybill_no=parcel.waybill_no, url=subscription.back_url, body=body,
                                   summary=f"node {node[0]} {item['scanTime']}", ack=is_ack)
