"""JD Logistics (京东物流) as the sandbox plays it: JD's open-platform router at ``/jd/routerjson``.

Written from the recipe (carrier-protocols.md §10, §17), independently of lanjie's adapter. One form
POST per call: system parameters ``method``, ``app_key``, ``access_token``, ``timestamp`` (Beijing
``yyyy-MM-dd HH:mm:ss``), ``v`` ("2.0"), optional ``format`` ("json"), the business JSON
``360buy_param_json`` and ``sign`` = upper-case hex MD5 of app secret + every other parameter's name
and value, sorted by name + app secret. Answers are ``{"<method with _>_response": {"code": "0", …}}``
or ``{"error_response": {"code", "zh_desc", "en_desc"}}`` (the envelope as public JD client code reads
it [3rd-party]).

Documented and served: ``jingdong.ldop.receive.order.intercept`` (vendorCode, deliveryId,
interceptReason, cancelOperatorCodeType, cancelTime, cancelOperator): an order not picked up yet is
cancelled on the spot (stateCode 100 取消成功; a repeat answers 108 已取消), a picked-up one is
intercepted and its result must be polled. From public client code [3rd-party]:
``jingdong.ldop.receive.trace.get`` (customerCode, waybillCode) answering ``querytrace_result.data[]``
with ``opeTitle``/``opeRemark``/``opeName``/``opeTime``.

**Sandbox choices** (JD does not publish them; lanjie's adapter shares them):

* the result query ``jingdong.ldop.receive.order.intercept.query`` (vendorCode, deliveryId) answering
  ``returnType {deliveryId, stateCode, stateMessage, taskId}``; the intercept answers ``resultInfo``
  alike, with ``taskId`` (the world's task id) when it accepted the intercept or names the existing one;
* ``stateCode`` besides 100/108: 101 in progress, 102 delivered, 103 out for delivery, 104 unknown
  waybill or not JD's (in the query: no intercept on record), 105 missed (delivered before the stop
  took effect), 106 failed otherwise, 107 already intercepted by this merchant, 109 by someone else;
  in the query 100 is a parcel that turned back and 108 an order cancelled before pickup;
* gateway error codes: 9 missing parameter, 10 invalid parameter, 14 bad sign, 15 unknown app_key,
  19 access_token invalid or expired, 20 vendorCode/customerCode not the account's, 22 unknown method,
  61 rate limited (the faults plan's ``rate_limit_per_second``);
* trace ``code`` 100, items oldest first, ``opeName`` = the site, the ``opeTitle`` of each scan
  (``TITLE_OF``), the ``messsage`` spelling public SDKs read;
* ``timestamp`` is checked for its format only: the sandbox clock runs compressed in the demo, so a
  freshness window against it would refuse every real client.

JD pushes nothing (its tracking push is not in the reference): the twin records each intercept's
outcome for the result query and lanjie polls. A cancelled order stays cancelled in the twin, but
the world has no "cancel before pickup", so the parcel's scans go on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response

from lanjie.domain.states import InterceptType
from lanjie.sandbox.model import Channel, InterceptTask, Parcel, Refusal, Scan, TaskOutcome
from lanjie.sandbox.route import ScanCode
from lanjie.sandbox.serving import Described, WireAnswer, WireRequest, serve
from lanjie.sandbox.wirefmt import BEIJING, WIRE_TIME, wire_time
from lanjie.sandbox.world import WorldError

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

PROTOCOL = "jd"
INTERCEPT = "jingdong.ldop.receive.order.intercept"
RESULT_QUERY = "jingdong.ldop.receive.order.intercept.query"  # sandbox choice
TRACE = "jingdong.ldop.receive.trace.get"
REQUIRED_SYSTEM = ("method", "app_key", "access_token", "timestamp", "v", "360buy_param_json", "sign")
CREDENTIALS = ("app_key", "app_secret", "access_token", "vendor_code")


class JosError(StrEnum):
    """``error_response.code`` (sandbox choices), with the Chinese and English descriptions."""

    missing = "9"
    invalid = "10"
    bad_sign = "14"
    bad_app_key = "15"
    bad_token = "19"
    no_permission = "20"
    unknown_method = "22"
    rate_limited = "61"


_ERROR_TEXT: dict[JosError, tuple[str, str]] = {
    JosError.missing: ("缺少必选参数", "Missing required parameter"),
    JosError.invalid: ("参数值无效", "Invalid parameter"),
    JosError.bad_sign: ("签名无效", "Invalid signature"),
    JosError.bad_app_key: ("app_key 无效", "Invalid app_key"),
    JosError.bad_token: ("access_token 无效或已过期，请重新授权", "Invalid or expired access_token"),
    JosError.no_permission: ("无权访问该商家数据", "No permission for this vendor"),
    JosError.unknown_method: ("方法不存在", "Invalid method"),
    JosError.rate_limited: ("调用频率超限，请稍后再试", "Call frequency limit exceeded"),
}


class StateCode(IntEnum):
    """``stateCode`` of the intercept answer and the result query (100, 108 documented; rest sandbox)."""

    done = 100  # 取消成功 / 拦截成功
    in_progress = 101  # 拦截中
    delivered = 102  # 已妥投，不能拦截
    out_for_delivery = 103  # 配送中，不能拦截
    unknown = 104  # 运单不存在或不支持拦截 / 无拦截记录
    missed = 105  # 拦截失败：已妥投
    failed = 106  # 拦截失败
    already_intercepted = 107  # 已拦截 (by this merchant)
    cancelled = 108  # 已取消
    intercepted_by_other = 109  # 已被拦截 (by someone else)


#: JD trace ``opeTitle`` for each scan (sandbox choice).
TITLE_OF: dict[ScanCode, str] = {
    ScanCode.ordered: "接单",
    ScanCode.picked_up: "揽收完成",
    ScanCode.departed: "发货",
    ScanCode.arrived_hub: "分拣中心验货",
    ScanCode.arrived_outlet: "站点验货",
    ScanCode.out_for_delivery: "配送员收货",
    ScanCode.delivered: "妥投",
    ScanCode.intercepted: "拦截成功",
    ScanCode.return_departed: "逆向发货",
    ScanCode.return_arrived: "逆向验货",
    ScanCode.return_signed: "退货签收",
    ScanCode.redirected: "改址转寄",
    ScanCode.damaged: "外包装破损",
    ScanCode.lost: "丢失",
}
_RESOLVED: dict[TaskOutcome, StateCode] = {
    TaskOutcome.succeeded: StateCode.done,
    TaskOutcome.missed: StateCode.missed,
    TaskOutcome.failed: StateCode.failed,
}
_REFUSED: dict[Refusal, tuple[StateCode, str]] = {
    Refusal.unknown_waybill: (StateCode.unknown, "运单不存在或不支持拦截"),
    Refusal.not_supported: (StateCode.unknown, "运单不存在或不支持拦截"),
    Refusal.out_for_delivery: (StateCode.out_for_delivery, "配送中，不能拦截"),
    Refusal.already_delivered: (StateCode.delivered, "已妥投，不能拦截"),
}


def jos_sign(fields: Mapping[str, str], app_secret: str) -> str:
    """Upper-case hex MD5 of secret + name+value of every field but ``sign``, sorted by name + secret."""
    text = app_secret + "".join(f"{name}{fields[name]}" for name in sorted(fields) if name != "sign") + app_secret
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def trace_item(waybill_no: str, scan: Scan) -> dict[str, str]:
    return {"opeTitle": TITLE_OF[scan.code], "opeRemark": scan.context, "opeName": scan.node.name,
            "opeTime": wire_time(scan.at), "waybillCode": waybill_no}


@dataclass
class Account:
    app_key: str
    app_secret: str
    access_token: str
    vendor_code: str
    expired: bool = False  # the access_token has expired: every call answers 19


@dataclass
class Outcome:
    """What the result query answers for one waybill."""

    vendor_code: str
    state: StateCode
    message: str
    task_id: str = ""


class JosFault(Exception):
    """A request the router refuses with ``error_response``."""

    def __init__(self, code: JosError, detail: str = "") -> None:
        zh, en = _ERROR_TEXT[code]
        super().__init__(f"{code}: {zh}")
        self.code = code
        self.zh = f"{zh}：{detail}" if detail else zh
        self.en = f"{en}: {detail}" if detail else en


def _text(param: Mapping[str, Any], name: str) -> str:
    value = param.get(name)
    if value is None or value == "":
        raise JosFault(JosError.missing, name)
    if not isinstance(value, str):
        raise JosFault(JosError.invalid, f"{name} 必须是字符串")
    return value


def _beijing(text: str, name: str) -> datetime:
    try:
        return datetime.strptime(text, WIRE_TIME).replace(tzinfo=BEIJING)
    except ValueError:
        raise JosFault(JosError.invalid, f"{name} 格式应为 yyyy-MM-dd HH:mm:ss") from None


def _method_of(body: bytes, query: Mapping[str, str]) -> str:
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return (fields.get("method") or [query.get("method", "")])[0]


class JDTwin:
    """JD's JOS router for the ldop intercept, its result query and the trace."""

    name: ClassVar[str] = "jd"
    test_credentials: ClassVar[Mapping[str, str]] = {
        "app_key": "SANDBOXJDAPPKEY", "app_secret": "SANDBOXJDAPPSECRET",
        "access_token": "SANDBOXJDACCESSTOKEN", "vendor_code": "010K000001",
    }

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.accounts: dict[str, Account] = {}
        self.outcomes: dict[str, Outcome] = {}  # waybill → what the result query answers
        self._methods: dict[str, Callable[[Account, dict[str, Any]], dict[str, Any]]] = {
            INTERCEPT: self._intercept, RESULT_QUERY: self._result_query, TRACE: self._trace,
        }
        self.register_account(self.test_credentials)

    def register_account(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        missing = [name for name in CREDENTIALS if not credentials.get(name)]
        if missing:
            raise WorldError(422, f"credentials: JD needs {', '.join(missing)}")
        account = Account(credentials["app_key"], credentials["app_secret"], credentials["access_token"],
                          credentials["vendor_code"], expired)
        self.accounts[account.app_key] = account
        return {"app_key": account.app_key, "vendor_code": account.vendor_code, "expired": account.expired}

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post("/routerjson", summary="JOS router (jingdong.ldop.*)")
        async def routerjson(request: Request) -> Response:
            # Faults are set per channel: the intercept call is one, every query the other.
            method = _method_of(await request.body(), request.query_params)
            channel = Channel.intercept if method == INTERCEPT else Channel.query
            return await serve(self.world, channel, request, self.operate, self.describe,
                               rate_limited=self.rate_limited)

        return router

    # ---- the router ----------------------------------------------------------------------------

    def describe(self, wire: WireRequest) -> Described:
        """How the request log names a call (read leniently: ``operate`` judges it)."""
        try:
            param = json.loads(wire.fields.get("360buy_param_json", ""))
        except ValueError:
            param = {}
        waybill = ""
        if isinstance(param, dict):
            found = param.get("deliveryId") or param.get("waybillCode")
            waybill = found if isinstance(found, str) else ""
        return Described(wire.fields.get("method", ""), waybill, wire.fields.get("app_key", ""))

    def rate_limited(self, wire: WireRequest) -> WireAnswer:
        return self._error(JosFault(JosError.rate_limited))

    def operate(self, wire: WireRequest) -> WireAnswer:
        """Check the system parameters and the sign, then run the method."""
        try:
            method, body = self._operate(wire.fields)
        except JosFault as fault:
            return self._error(fault)
        result = body.get("resultInfo") or body.get("returnType") or {}
        code = str(result.get("stateCode", body["code"]))
        message = str(result.get("stateMessage", "ok"))
        return WireAnswer({f"{method.replace('.', '_')}_response": body}, code, message)

    def _operate(self, fields: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        for name in REQUIRED_SYSTEM:
            if not fields.get(name):
                raise JosFault(JosError.missing, name)
        account = self.accounts.get(fields["app_key"])
        if account is None:
            raise JosFault(JosError.bad_app_key)
        expected = jos_sign(fields, account.app_secret)
        if not hmac.compare_digest(expected.encode(), fields["sign"].encode()):
            raise JosFault(JosError.bad_sign)
        if account.expired or not hmac.compare_digest(account.access_token.encode(),
                                                      fields["access_token"].encode()):
            raise JosFault(JosError.bad_token)
        if fields["v"] != "2.0":
            raise JosFault(JosError.invalid, "v 只支持 2.0")
        if fields.get("format", "json") != "json":
            raise JosFault(JosError.invalid, "format 只支持 json")
        _beijing(fields["timestamp"], "timestamp")
        method = fields["method"]
        handler = self._methods.get(method)
        if handler is None:
            raise JosFault(JosError.unknown_method, method)
        try:
            param = json.loads(fields["360buy_param_json"])
        except ValueError:
            raise JosFault(JosError.invalid, "360buy_param_json 不是合法的 JSON") from None
        if not isinstance(param, dict):
            raise JosFault(JosError.invalid, "360buy_param_json 必须是 JSON 对象")
        return method, {"code": "0", **handler(account, param)}

    def _error(self, fault: JosFault) -> WireAnswer:
        body = {"error_response": {"code": fault.code.value, "zh_desc": fault.zh, "en_desc": fault.en}}
        return WireAnswer(body, fault.code.value, fault.zh)

    @staticmethod
    def _vendor(account: Account, param: Mapping[str, Any], name: str) -> str:
        vendor_code = _text(param, name)
        if vendor_code != account.vendor_code:
            raise JosFault(JosError.no_permission, name)
        return vendor_code

    # ---- methods -------------------------------------------------------------------------------

    def _intercept(self, account: Account, param: dict[str, Any]) -> dict[str, Any]:
        vendor_code = self._vendor(account, param, "vendorCode")
        waybill_no = _text(param, "deliveryId")
        reason = _text(param, "interceptReason")
        if not _text(param, "cancelOperatorCodeType").isdigit():
            raise JosFault(JosError.invalid, "cancelOperatorCodeType 必须是数字")
        _beijing(_text(param, "cancelTime"), "cancelTime")
        _text(param, "cancelOperator")

        def answer(state: StateCode, message: str, task_id: str = "") -> dict[str, Any]:
            info: dict[str, Any] = {"stateCode": int(state), "stateMessage": message}
            if task_id:
                info["taskId"] = task_id
            return {"resultInfo": info}

        known = self.outcomes.get(waybill_no)
        if known is not None and known.vendor_code == vendor_code and known.state is StateCode.cancelled:
            return answer(StateCode.cancelled, "已取消：订单未揽收，已于此前取消")
        decision = self.world.request_intercept(
            carrier_code=PROTOCOL, waybill_no=waybill_no, intercept_type=InterceptType.return_to_sender,
            report_to={"protocol": PROTOCOL, "vendor_code": vendor_code}, requested_by=vendor_code,
            reason=reason, task_id_prefix="JDI")
        if decision.refusal is None and decision.task is not None:
            task_id = decision.task.task_id
            self.outcomes[waybill_no] = Outcome(vendor_code, StateCode.in_progress, "拦截中", task_id)
            return answer(StateCode.in_progress, "拦截中", task_id)
        refusal = decision.refusal or Refusal.not_supported
        if refusal is Refusal.not_picked_up:
            # JD cancels an order that was not picked up instead of intercepting it.
            self.outcomes[waybill_no] = Outcome(vendor_code, StateCode.cancelled, "已取消：订单未揽收")
            return answer(StateCode.done, "取消成功：订单未揽收，已取消")
        if refusal is Refusal.already_intercepted:
            task = decision.task
            ours = task is not None and task.report_to.get("protocol") == PROTOCOL and task.requested_by == vendor_code
            if task is not None and ours:
                return answer(StateCode.already_intercepted, "已拦截，请勿重复提交", task.task_id)
            return answer(StateCode.intercepted_by_other, "该运单已被拦截")
        state, message = _REFUSED[refusal]
        return answer(state, message)

    def _result_query(self, account: Account, param: dict[str, Any]) -> dict[str, Any]:
        vendor_code = self._vendor(account, param, "vendorCode")
        waybill_no = _text(param, "deliveryId")
        outcome = self.outcomes.get(waybill_no)
        if outcome is None or outcome.vendor_code != vendor_code:
            outcome = Outcome(vendor_code, StateCode.unknown, "无拦截记录")
        info: dict[str, Any] = {"deliveryId": waybill_no, "stateCode": int(outcome.state),
                                "stateMessage": outcome.message}
        if outcome.task_id:
            info["taskId"] = outcome.task_id
        return {"returnType": info}

    def _trace(self, account: Account, param: dict[str, Any]) -> dict[str, Any]:
        self._vendor(account, param, "customerCode")
        waybill_no = _text(param, "waybillCode")
        parcel = self.world.parcels.get(waybill_no)
        scans = parcel.scans if parcel is not None and parcel.carrier_code == PROTOCOL else []
        return {"querytrace_result": {"code": 100, "messsage": "成功",
                                      "data": [trace_item(waybill_no, scan) for scan in scans]}}

    # ---- the world's news ----------------------------------------------------------------------

    def on_tracking(self, parcel: Parcel) -> None:
        """JD pushes no tracking: lanjie polls the trace."""

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """Keep the final stateCode for the result query (JD reports nothing by itself)."""
        if task.report_to.get("protocol") != PROTOCOL or task.outcome is None:
            return
        self.outcomes[parcel.waybill_no] = Outcome(task.report_to["vendor_code"], _RESOLVED[task.outcome],
                                                   task.message, task.task_id)
