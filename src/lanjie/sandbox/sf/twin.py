"""SF Express's side of the sandbox: accounts, the 丰桥 gateway, route registrations and route pushes.

One route, ``POST /std/service``, serves every ``serviceCode``; each request goes through the world's
faults for its channel (interceptions on ``intercept``, route registrations on ``subscribe``, route
queries on ``query``). The twin also listens to the world: every new scan of a registered waybill
becomes an incremental route push, which is also how SF reports an intercept's outcome (a 631
return route, or the 80 signature of a miss). Wire details and sandbox choices: ``wire``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response

from lanjie.domain.states import InterceptType
from lanjie.sandbox.model import Channel, InterceptTask, Parcel, Refusal, TaskState
from lanjie.sandbox.push import Delivery, PushBody
from lanjie.sandbox.route import CITIES, Party, find_city
from lanjie.sandbox.serving import Described, WireAnswer, WireRequest, serve
from lanjie.sandbox.wirefmt import dumps
from lanjie.sandbox.world import CancelResult, WorldError

from .wire import (
    FEES_FEN,
    FORM_FIELDS,
    MAX_REQUEST_ID,
    SERVICE_INTERCEPT,
    SERVICE_REGISTER_ROUTE,
    SERVICE_SEARCH_ROUTES,
    ApiCode,
    ErrorCode,
    digest,
    envelope,
    is_ack,
    millis,
    push_item,
    result,
    route_item,
    yuan,
)

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

PROTOCOL = "sf"
SF_CARRIER = "shunfeng"  # the world's canonical code for SF parcels
INTERCEPT_TYPES = {"1": InterceptType.redirect, "2": InterceptType.return_to_sender}
CHANNELS = {SERVICE_INTERCEPT: Channel.intercept, SERVICE_REGISTER_ROUTE: Channel.subscribe,
            SERVICE_SEARCH_ROUTES: Channel.query}
_REFUSALS: dict[Refusal, tuple[ErrorCode, str]] = {
    Refusal.unknown_waybill: (ErrorCode.not_supported, "运单号不存在或不支持拦截"),
    Refusal.not_supported: (ErrorCode.not_supported, "运单号不存在或不支持拦截"),
    Refusal.not_picked_up: (ErrorCode.not_picked_up, "快件未揽收，不可拦截，请取消订单"),
    Refusal.out_for_delivery: (ErrorCode.out_for_delivery, "快件派送中，不可拦截"),
    Refusal.already_delivered: (ErrorCode.already_delivered, "快件已签收，不可拦截"),
    Refusal.already_intercepted: (ErrorCode.already_intercepted, "该运单已拦截，不可重复拦截"),
}
_MAX_NUMBERS = 10


@dataclass
class Account:
    partner_id: str
    check_word: str
    expired: bool = False


@dataclass(frozen=True)
class Command:
    """An accepted intercept command, by its cusId (the world's task id)."""

    partner_id: str
    waybill_no: str
    service_code: str
    task: InterceptTask


@dataclass
class Registration:
    """One waybill registered for route pushes by one account, and what was pushed so far."""

    partner_id: str
    waybill_no: str
    callback_url: str
    check_word: str
    pushed: int = 0  # routes already put in a push (each push carries only newer ones)
    order: asyncio.Lock = field(default_factory=asyncio.Lock)  # its pushes go out one at a time
    last_body: PushBody | None = None  # for the out-of-order fault


class ParamError(ValueError):
    """A msgData field is missing or malformed; the message names it."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.bad_parameter) -> None:
        super().__init__(message)
        self.code = code


def _text(data: Mapping[str, Any], name: str, within: str = "", *, required: bool = True,
          code: ErrorCode = ErrorCode.bad_parameter) -> str:
    value = data.get(name)
    label = f"{within}.{name}" if within else name
    if value is None or value == "":
        if required:
            raise ParamError(f"参数错误：缺少 {label}", code)
        return ""
    if not isinstance(value, str):
        raise ParamError(f"参数错误：{label} 必须是字符串", code)
    return value


def _numbers(data: Mapping[str, Any]) -> list[str]:
    if _text(data, "trackingType") != "1":
        raise ParamError("参数错误：trackingType 只支持 1（按运单号）")
    numbers = data.get("trackingNumber")
    if not isinstance(numbers, list) or not numbers or len(numbers) > _MAX_NUMBERS:
        raise ParamError(f"参数错误：trackingNumber 必须是 1–{_MAX_NUMBERS} 个运单号的列表")
    if not all(isinstance(number, str) and number for number in numbers):
        raise ParamError("参数错误：trackingNumber 必须是运单号字符串")
    return numbers


def _phone_tail(data: Mapping[str, Any]) -> str:
    tail = _text(data, "checkPhoneNo", required=False)
    if tail and not (len(tail) == 4 and tail.isdigit()):
        raise ParamError("参数错误：checkPhoneNo 必须是手机号后4位")
    return tail


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://")) and len(value) > len("https://")


def _service_code(body: bytes) -> str:
    values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get("serviceCode")
    return values[0] if values else ""


def _describe(wire: WireRequest) -> Described:
    """How the request log names a request (read leniently: the twin judges it)."""
    try:
        data = json.loads(wire.fields.get("msgData", ""))
    except ValueError:
        data = {}
    waybill_no = ""
    if isinstance(data, dict):
        numbers = data.get("trackingNumber")
        if isinstance(data.get("waybillNo"), str):
            waybill_no = data["waybillNo"]
        elif isinstance(numbers, list) and numbers and isinstance(numbers[0], str):
            waybill_no = numbers[0]
    return Described(wire.fields.get("serviceCode", ""), waybill_no, wire.fields.get("partnerID", ""))


class SFTwin:
    """SF Express (丰桥) as the sandbox plays it."""

    name: ClassVar[str] = PROTOCOL
    #: The courier codes a parcel reached through this twin may have ("sf:sf"; the world says "shunfeng").
    couriers: ClassVar[frozenset[str]] = frozenset({"sf", "shunfeng"})
    test_credentials: ClassVar[Mapping[str, str]] = {
        "partner_id": "SFSANDBOX01",
        "check_word": "sfSandboxCheckWord0123456789abcd",
    }

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.accounts: dict[str, Account] = {}
        self.commands: dict[str, Command] = {}  # cusId → command
        self.registrations: dict[str, dict[str, Registration]] = {}  # waybill → partnerID → newest
        self._answers: dict[tuple[str, str], WireAnswer] = {}  # (partnerID, requestID) → first answer
        self._responses = 0
        self.register_account(self.test_credentials)

    def register_account(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        partner_id, check_word = credentials.get("partner_id", ""), credentials.get("check_word", "")
        if not partner_id or not check_word:
            raise WorldError(422, "credentials: an SF account needs partner_id and check_word")
        self.accounts[partner_id] = Account(partner_id, check_word, expired)
        return {"partner_id": partner_id, "expired": expired}

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post("/std/service", summary="丰桥 gateway: EXP_RECE_WANTED_INTERCEPT, _SEARCH_ROUTES, _REGISTER_ROUTE")
        async def service(request: Request) -> Response:
            channel = CHANNELS.get(_service_code(await request.body()), Channel.query)
            return await serve(self.world, channel, request, self.service, _describe,
                               rate_limited=self.rate_limited)

        return router

    # ---- the gateway --------------------------------------------------------------------------

    def _envelope(self, code: ApiCode, message: str, data: dict[str, Any] | None = None, *,
                  logged: tuple[str, str] | None = None, task_id: str = "", waybill_no: str = "") -> WireAnswer:
        """The answer; the request log shows ``logged`` (the business code and message) when given."""
        self._responses += 1
        body = envelope(code, message, f"SBX{self._responses:012d}", data)
        log_code, log_message = logged or (code.value, message)
        return WireAnswer(body, log_code, log_message, task_id=task_id, waybill_no=waybill_no)

    def _business(self, code: ErrorCode, message: str, msg_data: Any = None, *, task_id: str = "",
                  waybill_no: str = "") -> WireAnswer:
        return self._envelope(ApiCode.ok, "", result(code, message, msg_data), logged=(code.value, message),
                              task_id=task_id, waybill_no=waybill_no)

    def rate_limited(self, _wire: WireRequest) -> WireAnswer:
        return self._envelope(ApiCode.rate_limited, "流量受控，请稍后再试")

    def service(self, wire: WireRequest) -> WireAnswer:
        """``POST /std/service``: check the form, the account and the digest, then run the service."""
        fields = wire.fields
        for name in FORM_FIELDS:
            if not fields.get(name):
                return self._envelope(ApiCode.missing, f"必传参数不可为空：{name}")
        if len(fields["requestID"]) > MAX_REQUEST_ID:
            return self._envelope(ApiCode.missing, f"requestID 长度不能超过{MAX_REQUEST_ID}")
        account = self.accounts.get(fields["partnerID"])
        if account is None or account.expired:
            return self._envelope(ApiCode.forbidden, "无对应服务权限：顾客编码无效或已过期")
        expected = digest(fields["msgData"], fields["timestamp"], account.check_word)
        if not hmac.compare_digest(expected.encode("ascii"), fields["msgDigest"].encode("utf-8")):
            return self._envelope(ApiCode.bad_digest, "数字签名无效")
        key = (account.partner_id, fields["requestID"])
        if key in self._answers:
            return self._answers[key]  # the same requestID again: the first answer, nothing done twice
        operations: dict[str, Callable[[Account, dict[str, Any]], WireAnswer]] = {
            SERVICE_INTERCEPT: self._intercept, SERVICE_SEARCH_ROUTES: self._search_routes,
            SERVICE_REGISTER_ROUTE: self._register_route,
        }
        operation = operations.get(fields["serviceCode"])
        if operation is None:
            return self._envelope(ApiCode.forbidden, f"无对应服务权限：{fields['serviceCode']}")
        try:
            data = json.loads(fields["msgData"])
        except ValueError:
            data = None
        if not isinstance(data, dict):
            answer = self._business(ErrorCode.bad_parameter, "参数错误：msgData 不是合法的 JSON 对象")
        else:
            try:
                answer = operation(account, data)
            except ParamError as exc:
                answer = self._business(exc.code, str(exc))
        self._answers[key] = answer
        return answer

    # ---- EXP_RECE_WANTED_INTERCEPT --------------------------------------------------------------

    def _intercept(self, account: Account, data: dict[str, Any]) -> WireAnswer:
        waybill_no = _text(data, "waybillNo")
        if data.get("cancel") is True:
            return self._cancel(account, waybill_no, _text(data, "cusId"))
        service_code = _text(data, "serviceCode")
        intercept_type = INTERCEPT_TYPES.get(service_code)
        if intercept_type is None:
            raise ParamError(f"参数错误：serviceCode 不支持 {service_code}（仅 1 转寄、2 退回）")
        if _text(data, "role") not in ("1", "2", "3"):
            raise ParamError("参数错误：role 必须是 1、2 或 3")
        if _text(data, "payMode") not in ("1", "2", "3", "4"):
            raise ParamError("参数错误：payMode 必须是 1、2、3 或 4")
        destination = self._destination(data, waybill_no)
        decision = self.world.request_intercept(
            carrier_code=SF_CARRIER, waybill_no=waybill_no, intercept_type=intercept_type,
            report_to={"protocol": PROTOCOL, "partner_id": account.partner_id, "service_code": service_code},
            requested_by=account.partner_id, new_recipient=destination if intercept_type is InterceptType.redirect
            else None, task_id_prefix="SFC", fee_minor=FEES_FEN[service_code],
        )
        task = decision.task
        if decision.refusal is None and task is not None:
            self.commands[task.task_id] = Command(account.partner_id, waybill_no, service_code, task)
            return self._business(ErrorCode.ok, "", self._accepted(task, service_code), task_id=task.task_id)
        if (decision.refusal is Refusal.already_intercepted and task is not None
                and task.state is TaskState.pending and task.requested_by == account.partner_id
                and task.report_to.get("service_code") == service_code):
            return self._business(ErrorCode.duplicate, "重复的拦截请求：该运单的拦截正在处理中",
                                  self._accepted(task, service_code), task_id=task.task_id)
        code, message = _REFUSALS[decision.refusal or Refusal.not_supported]
        return self._business(code, message)

    def _destination(self, data: Mapping[str, Any], waybill_no: str) -> Party:
        address = data.get("newDestAddress")
        if not isinstance(address, dict):
            raise ParamError("参数错误：转寄、退回需要 newDestAddress", ErrorCode.bad_address)
        contact = _text(address, "contact", "newDestAddress", code=ErrorCode.bad_address)
        phone = _text(address, "phone", "newDestAddress", code=ErrorCode.bad_address)
        line = _text(address, "address", "newDestAddress", code=ErrorCode.bad_address)
        parts = [_text(address, name, "newDestAddress", required=False, code=ErrorCode.bad_address)
                 for name in ("province", "city", "county")]
        parcel = self.world.parcels.get(waybill_no)
        city = find_city("".join(parts) + line) or (parcel.recipient.city if parcel else None)
        # An unknown waybill is refused by the world before the city matters.
        return Party(contact, phone, "".join(parts) + line, city or CITIES[0])

    def _accepted(self, task: InterceptTask, service_code: str) -> dict[str, Any]:
        parcel = self.world.parcels[task.waybill_no]
        return {
            "cusId": task.task_id,
            "amount": yuan(task.fee_minor or 0),
            "freightAdditionInfoResp": {"interceptionDeptCode": parcel.route.nodes[-1].city.area_code,
                                        "transferFlg": "1" if service_code == "1" else "0"},
        }

    def _cancel(self, account: Account, waybill_no: str, cus_id: str) -> WireAnswer:
        command = self.commands.get(cus_id)
        if command is None or command.partner_id != account.partner_id or command.waybill_no != waybill_no:
            return self._business(ErrorCode.no_command, f"拦截指令不存在：{cus_id}")
        if command.task.state is TaskState.cancelled:
            return self._business(ErrorCode.ok, "", task_id=cus_id)  # cancelling twice changes nothing
        outcome = self.world.cancel_intercept(waybill_no, cus_id)
        if outcome is CancelResult.cancelled:
            return self._business(ErrorCode.ok, "", task_id=cus_id)
        if outcome is CancelResult.already_resolved:
            return self._business(ErrorCode.completed, "拦截已完成，不可撤销", task_id=cus_id)
        return self._business(ErrorCode.no_command, f"拦截指令不存在：{cus_id}")

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """SF reports outcomes only as routes: the 631 (or 80 of a miss) already went out as a push."""

    # ---- EXP_RECE_SEARCH_ROUTES -----------------------------------------------------------------

    def _sf_parcel(self, number: str) -> Parcel | None:
        parcel = self.world.parcels.get(number)
        return parcel if parcel is not None and parcel.carrier_code == SF_CARRIER else None

    def _search_routes(self, _account: Account, data: dict[str, Any]) -> WireAnswer:
        numbers = _numbers(data)
        _phone_tail(data)
        responses = []
        for number in numbers:
            parcel = self._sf_parcel(number)
            scans = parcel.scans if parcel is not None else []
            responses.append({"mailNo": number, "routes": [route_item(scan) for scan in scans]})
        return self._business(ErrorCode.ok, "", {"routeResps": responses}, waybill_no=numbers[0])

    # ---- EXP_RECE_REGISTER_ROUTE and the pushes it leads to -------------------------------------

    def _register_route(self, account: Account, data: dict[str, Any]) -> WireAnswer:
        numbers = _numbers(data)
        _phone_tail(data)
        callback_url = _text(data, "callbackUrl")
        if not _is_url(callback_url):
            raise ParamError("参数错误：callbackUrl 不是 http(s) 地址")
        first_at = self.world.clock.now() + timedelta(seconds=self.world.config.first_push_seconds)
        for number in numbers:
            registration = Registration(account.partner_id, number, callback_url, account.check_word)
            self.registrations.setdefault(number, {})[account.partner_id] = registration
            self.world.schedule(first_at, lambda _at, r=registration: self._push_new(r))
        return self._business(ErrorCode.ok, "", waybill_no=numbers[0])

    def on_tracking(self, parcel: Parcel) -> None:
        for registration in list(self.registrations.get(parcel.waybill_no, {}).values()):
            self._push_new(registration)

    def _push_new(self, registration: Registration) -> None:
        """Push the routes the registration has not had yet (nothing when there are none)."""
        if self.registrations.get(registration.waybill_no, {}).get(registration.partner_id) is not registration:
            return  # replaced by a newer registration
        parcel = self._sf_parcel(registration.waybill_no)
        scans = parcel.scans if parcel is not None else []
        if len(scans) <= registration.pushed:
            return
        start = registration.pushed
        items = [push_item(registration.waybill_no, start + offset + 1, scan)
                 for offset, scan in enumerate(scans[start:])]
        registration.pushed = len(scans)
        msg_data = dumps({"Body": {"WaybillRoute": items}})
        timestamp = millis(self.world.clock.now())
        body = PushBody.form({"msgData": msg_data, "timestamp": timestamp,
                              "msgDigest": digest(msg_data, timestamp, registration.check_word)})
        stale, registration.last_body = registration.last_body, body
        codes = ",".join(item["opCode"] for item in items)
        self.world.pushes.send(Delivery(
            channel=Channel.push, waybill_no=registration.waybill_no, url=registration.callback_url, body=body,
            summary=f"{len(items)} routes ({codes})", ack=is_ack, order=registration.order, stale_body=stale,
        ))

