"""Kuaidi100's side of the sandbox: accounts, subscriptions, and the three operations it serves.

Each operation takes the request's fields exactly as received and returns the answer to send.
The twin also listens to the world: a new scan becomes a tracking push to every subscriber of the
waybill, a resolved intercept becomes a result callback. Wire details and the codes that are
sandbox choices are described in ``kuaidi100_wire``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lanjie.domain.states import InterceptType
from lanjie.sandbox.kuaidi100_wire import (
    COMPANY_OF,
    InterceptCode,
    ParamError,
    QueryCode,
    SubscribeCode,
    callback_param,
    intercept_sign,
    is_ack,
    last_result,
    millis,
    push_param,
    push_sign,
    query_sign,
    world_carrier,
)
from lanjie.sandbox.kuaidi100_wire import is_url as _is_url
from lanjie.sandbox.kuaidi100_wire import json_object as _json_object
from lanjie.sandbox.kuaidi100_wire import text_field as _text
from lanjie.sandbox.kuaidi100_workorder import WorkOrderDesk
from lanjie.sandbox.model import Channel, InterceptTask, Parcel, Refusal, TaskState
from lanjie.sandbox.push import Delivery, PushBody
from lanjie.sandbox.route import CITIES, Party, find_city
from lanjie.sandbox.serving import WireAnswer
from lanjie.sandbox.wirefmt import dumps

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld

PROTOCOL = "kuaidi100"
INTERCEPT_TYPES = {
    "RETURN_SEND_STATION": InterceptType.return_to_outlet,
    "RETURN_SEND_ADDR": InterceptType.return_to_sender,
    "MODIFY_ADDR": InterceptType.redirect,
}
_REFUSALS: dict[Refusal, tuple[InterceptCode, str]] = {
    Refusal.unknown_waybill: (InterceptCode.not_supported, "单号不存在或快递公司不支持拦截"),
    Refusal.not_supported: (InterceptCode.not_supported, "单号不存在或快递公司不支持拦截"),
    Refusal.not_picked_up: (InterceptCode.not_picked_up, "快件未揽收，不可拦截，请取消订单"),
    Refusal.out_for_delivery: (InterceptCode.out_for_delivery, "快件派件中，不可拦截"),
    Refusal.already_delivered: (InterceptCode.already_signed, "快件已签收，不可拦截"),
}
_RESUBSCRIBE_AFTER = timedelta(minutes=30)
_MONTH = timedelta(days=30)
_SUBSCRIPTIONS_PER_MONTH = 4
_PHONE_REQUIRED = frozenset({"shunfeng"})  # SF answers only with the last 4 digits of a phone


@dataclass
class Account:
    key: str
    customer: str
    secret: str
    expired: bool = False


@dataclass
class Subscription:
    """One tracking subscription (``poll``) and the state of its pushes."""

    key: str
    company: str  # as the subscriber wrote it; echoed in pushes
    number: str
    callback_url: str
    salt: str
    phone: str
    subscribed_at: datetime
    status: str = "polling"  # polling | shutdown | abort
    ended_at: datetime | None = None
    order: asyncio.Lock = field(default_factory=asyncio.Lock)  # its pushes go out one at a time
    last_body: PushBody | None = None  # the newest snapshot sent, for the out-of-order fault
    acked_scans: int = 0  # scans in the newest snapshot acknowledged
    watch: int = 0  # version of the pending abort check
    corrected_to: str = ""  # set when aborted for a wrong carrier code (autoCheck): the right code


class Kuaidi100Twin:
    """Kuaidi100 as the sandbox plays it."""

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.accounts: dict[str, Account] = {}
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # (key, number) → newest
        self._by_number: dict[str, list[Subscription]] = {}
        self._history: dict[tuple[str, str], list[datetime]] = {}  # subscription times, for the monthly limit
        self.workorders = WorkOrderDesk(self)  # 工单: claims, decided by the world's adjudicator
        for key, account in world.config.kuaidi100_accounts.items():
            self.register_account(key, account["customer"], account["secret"])

    def register_account(self, key: str, customer: str, secret: str, expired: bool = False) -> Account:
        account = Account(key, customer, secret, expired)
        self.accounts[key] = account
        return account

    def _by_customer(self, customer: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.customer == customer), None)

    # ---- interceptOrder ---------------------------------------------------------------------

    def _intercept_answer(self, code: InterceptCode, message: str, data: dict[str, Any] | None = None) -> WireAnswer:
        body = {"code": int(code), "message": message, "time": millis(self.world.clock.now()), "data": data or {}}
        return WireAnswer(body, str(int(code)), message, (data or {}).get("taskId", ""))

    def rate_limited(self) -> WireAnswer:
        return self._intercept_answer(InterceptCode.rate_limited, "请求过于频繁，请稍后再试")

    def intercept(self, fields: Mapping[str, str]) -> WireAnswer:
        """``POST label/order`` with ``method=interceptOrder``."""
        try:
            return self._intercept(fields)
        except ParamError as exc:
            return self._intercept_answer(InterceptCode.bad_request, str(exc))

    def _intercept(self, fields: Mapping[str, str]) -> WireAnswer:
        for name in ("method", "key", "t", "param", "sign"):
            _text(fields, name)
        if fields["method"] != "interceptOrder":
            raise ParamError(f"参数错误：method 不支持 {fields['method']}")
        if not fields["t"].isdigit():
            raise ParamError("参数错误：t 必须是毫秒时间戳")
        account = self.accounts.get(fields["key"])
        if account is None or account.expired:
            return self._intercept_answer(InterceptCode.forbidden, "key 无效或已过期")
        expected = intercept_sign(fields["param"], fields["t"], account.key, account.secret)
        if not hmac.compare_digest(expected.encode(), fields["sign"].encode()):
            return self._intercept_answer(InterceptCode.forbidden, "签名错误")
        param = _json_object(fields["param"])
        kuaidicom = _text(param, "kuaidicom")
        waybill_no = _text(param, "kuaidinum")
        type_name = _text(param, "interceptType")
        callback_url = _text(param, "callbackUrl")
        salt = _text(param, "salt", required=False)
        intercept_type = INTERCEPT_TYPES.get(type_name)
        if intercept_type is None:
            raise ParamError(f"参数错误：interceptType 不支持 {type_name}")
        if not _is_url(callback_url):
            raise ParamError("参数错误：callbackUrl 不是 http(s) 地址")
        carrier = world_carrier(kuaidicom)
        if carrier is None:
            return self._intercept_answer(InterceptCode.not_supported, f"不支持的快递公司编码：{kuaidicom}")
        new_recipient = self._new_recipient(param, waybill_no) if intercept_type is InterceptType.redirect else None
        decision = self.world.request_intercept(
            carrier_code=carrier, waybill_no=waybill_no, intercept_type=intercept_type,
            report_to={"protocol": PROTOCOL, "callback_url": callback_url, "salt": salt, "kuaidicom": kuaidicom},
            requested_by=account.key, reason=_text(param, "reason", required=False),
            order_id=_text(param, "orderId", required=False), new_recipient=new_recipient,
            task_id_prefix="K100T",
        )
        task = decision.task
        if decision.refusal is None and task is not None:
            return self._intercept_answer(InterceptCode.accepted, "success", {"taskId": task.task_id})
        if decision.refusal is Refusal.already_intercepted and task is not None:
            # Only a repeat of this key's own request still in progress is told its task; a resolved
            # intercept, or another key's, is a refusal that names no task.
            if task.state is TaskState.pending and task.requested_by == account.key:
                return self._intercept_answer(InterceptCode.already_intercepted, "该单号正在拦截中，请勿重复提交",
                                              {"taskId": task.task_id})
            return self._intercept_answer(InterceptCode.intercepted_before, "该单号已拦截过，不可重复拦截")
        code, message = _REFUSALS[decision.refusal or Refusal.not_supported]
        return self._intercept_answer(code, message)

    def _new_recipient(self, param: Mapping[str, Any], waybill_no: str) -> Party:
        info = param.get("recManInfo")
        if isinstance(info, str) and info:
            info = _json_object(info)  # some clients send the nested object as a JSON string
        if not isinstance(info, dict):
            raise ParamError("参数错误：MODIFY_ADDR 需要 recManInfo")
        name = _text(info, "name", within="recManInfo")
        phone = _text(info, "mobile", False, "recManInfo") or _text(info, "tel", False, "recManInfo")
        if not phone:
            raise ParamError("参数错误：缺少 recManInfo.mobile")
        address = _text(info, "printAddr", within="recManInfo")
        parcel = self.world.parcels.get(waybill_no)
        city = find_city(address) or (parcel.recipient.city if parcel else None)
        # An unknown waybill is refused by the world before the city matters.
        return Party(name, phone, address, city or CITIES[0])

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        if task.report_to.get("protocol") != PROTOCOL:
            return
        param = dumps(callback_param(task, task.report_to["kuaidicom"]))
        form = {"param": param, "sign": push_sign(param, task.report_to["salt"])}
        outcome = json.loads(param)
        self.world.pushes.send(Delivery(
            channel=Channel.callback, waybill_no=parcel.waybill_no, url=task.report_to["callback_url"],
            body=PushBody.form(form), summary=f"{outcome['status']} {outcome['code']}", ack=is_ack,
        ))

    # ---- poll (subscribe) and the pushes it leads to ---------------------------------------------

    def subscribe(self, fields: Mapping[str, str]) -> WireAnswer:
        """``POST poll``: subscribe a waybill's tracking pushes."""

        def answer(code: SubscribeCode, message: str) -> WireAnswer:
            body = {"result": code is SubscribeCode.ok, "returnCode": code.value, "message": message}
            return WireAnswer(body, code.value, message)

        try:
            if fields.get("schema", "json") != "json":
                raise ParamError("参数错误：schema 只支持 json")
            param = _json_object(_text(fields, "param"))
            account = self.accounts.get(param.get("key") or "")
            if account is None:
                return answer(SubscribeCode.bad_key, "授权码（key）无效")
            if account.expired:
                return answer(SubscribeCode.key_expired, "授权码（key）已过期")
            company = _text(param, "company")
            number = _text(param, "number")
            parameters = param.get("parameters") or {}
            if not isinstance(parameters, dict):
                raise ParamError("参数错误：parameters 必须是 JSON 对象")
            callback_url = _text(parameters, "callbackurl")
            salt = _text(parameters, "salt", required=False)
            phone = _text(parameters, "phone", required=False)
        except ParamError as exc:
            return answer(SubscribeCode.bad_data, str(exc))
        carrier = world_carrier(company)
        if carrier is None:
            return answer(SubscribeCode.unknown_carrier, f"无法识别的快递公司编码：{company}")
        if not _is_url(callback_url):
            return answer(SubscribeCode.bad_data, "参数错误：callbackurl 不是 http(s) 地址")
        if carrier in _PHONE_REQUIRED and not phone:
            return answer(SubscribeCode.bad_data, "参数错误：该快递公司需要 phone（手机号后四位）")
        now = self.world.clock.now()
        current = self.subscriptions.get((account.key, number))
        if current is not None and current.status == "polling":
            return answer(SubscribeCode.duplicate, "重复订阅：该单号正在跟踪中")
        corrected = current is not None and bool(current.corrected_to) and \
            carrier == world_carrier(current.corrected_to)
        # Sandbox choice: resubscribing under the code Kuaidi100 itself corrected to is allowed at once.
        if current is not None and current.ended_at is not None and not corrected and \
                now - current.ended_at < _RESUBSCRIBE_AFTER:
            return answer(SubscribeCode.duplicate, "重复订阅：单号跟踪结束后 30 分钟内不可重新订阅")
        history = [at for at in self._history.get((account.key, number), []) if now - at < _MONTH]
        if len(history) >= _SUBSCRIPTIONS_PER_MONTH:
            return answer(SubscribeCode.bad_data, "同一单号每月最多订阅 4 次")
        self._history[(account.key, number)] = [*history, now]
        subscription = Subscription(account.key, company, number, callback_url, salt, phone, now)
        if current is not None:
            self._by_number[number].remove(current)
        self.subscriptions[(account.key, number)] = subscription
        self._by_number.setdefault(number, []).append(subscription)
        parcel = self._parcel_for(subscription)
        misfiled = self.world.parcels.get(number)
        first_at = now + timedelta(seconds=self.world.config.first_push_seconds)
        if parcel is None and misfiled is not None and misfiled.scans:
            # The number is known under another carrier: Kuaidi100 corrects the code (autoCheck) and
            # ends this subscription; the subscriber resubscribes under the right code.
            self.world.schedule(first_at, lambda _at: self._push_correction(subscription, misfiled))
        elif parcel is not None and parcel.scans:
            self.world.schedule(first_at, lambda _at: self._push_if_polling(subscription))
        else:
            self._arm_abort(subscription, now + timedelta(seconds=self.world.config.abort_no_record_seconds))
        return answer(SubscribeCode.ok, "提交成功")

    def _parcel_for(self, subscription: Subscription) -> Parcel | None:
        parcel = self.world.parcels.get(subscription.number)
        if parcel is None or world_carrier(subscription.company) != parcel.carrier_code:
            return None
        return parcel

    def on_tracking(self, parcel: Parcel) -> None:
        for subscription in list(self._by_number.get(parcel.waybill_no, [])):
            if subscription.status == "polling" and self._parcel_for(subscription) is parcel:
                self._push(subscription, parcel)

    def _push_if_polling(self, subscription: Subscription) -> None:
        parcel = self._parcel_for(subscription)
        if subscription.status == "polling" and parcel is not None:
            self._push(subscription, parcel)

    def _arm_abort(self, subscription: Subscription, at: datetime) -> None:
        subscription.watch += 1
        version = subscription.watch
        self.world.schedule(at, lambda _at: self._abort_if_idle(subscription, version))

    def _abort_if_idle(self, subscription: Subscription, version: int) -> None:
        if subscription.watch != version or subscription.status != "polling":
            return
        parcel = self._parcel_for(subscription)
        message = "60天无变化" if parcel is not None and parcel.scans else "3天查询无记录"
        self._push(subscription, parcel, status="abort", message=message)

    def _push_correction(self, subscription: Subscription, parcel: Parcel) -> None:
        if subscription.status != "polling":
            return
        subscription.corrected_to = COMPANY_OF[parcel.carrier_code]  # Kuaidi100 names it in its own code
        message = f"快递公司编码有误，已自动更正为 {subscription.corrected_to}"
        self._push(subscription, parcel, status="abort", message=message,
                   correction=(subscription.company, subscription.corrected_to))

    def _push(self, subscription: Subscription, parcel: Parcel | None, status: str = "",
              message: str = "", correction: tuple[str, str] | None = None) -> None:
        scans = list(parcel.scans) if parcel is not None else []
        if not status:
            status = "shutdown" if parcel is not None and parcel.finished else "polling"
        company = correction[1] if correction else subscription.company
        param = dumps(push_param(status, last_result(company, subscription.number, scans), message,
                                 correction=correction))
        body = PushBody.form({"param": param, "sign": push_sign(param, subscription.salt)})
        stale, subscription.last_body = subscription.last_body, body
        if status == "polling":
            no_change_at = scans[-1].at + timedelta(seconds=self.world.config.abort_no_change_seconds)
            self._arm_abort(subscription, no_change_at)
        else:
            subscription.status, subscription.ended_at = status, self.world.clock.now()
        count = len(scans)

        def acked() -> None:
            subscription.acked_scans = max(subscription.acked_scans, count)

        self.world.pushes.send(Delivery(
            channel=Channel.push, waybill_no=subscription.number, url=subscription.callback_url, body=body,
            summary=f"{status}, {count} scans", ack=is_ack, order=subscription.order,
            superseded=lambda: subscription.acked_scans > count, on_acked=acked, stale_body=stale,
        ))

    # ---- poll/query.do -------------------------------------------------------------------------

    def query(self, fields: Mapping[str, str]) -> WireAnswer:
        """``POST poll/query.do``: the tracking snapshot now."""

        def error(code: QueryCode, message: str) -> WireAnswer:
            return WireAnswer({"result": False, "returnCode": code.value, "message": message}, code.value, message)

        account = self._by_customer(fields.get("customer", ""))
        if account is None or account.expired:
            return error(QueryCode.bad_customer, "customer 无效或 key 已过期")
        param_text, sign = fields.get("param", ""), fields.get("sign", "")
        expected = query_sign(param_text, account.key, account.customer)
        if not hmac.compare_digest(expected.encode(), sign.encode()):
            return error(QueryCode.bad_sign, "验证签名失败")
        try:
            param = _json_object(param_text)
            com = _text(param, "com")
            number = _text(param, "num")
            phone = _text(param, "phone", required=False)
            order = _text(param, "order", required=False) or "desc"
        except ParamError as exc:
            return error(QueryCode.bad_data, str(exc))
        carrier = world_carrier(com)
        if carrier is None:
            return error(QueryCode.bad_data, f"无法识别的快递公司编码：{com}")
        if carrier in _PHONE_REQUIRED and not phone:
            return error(QueryCode.bad_data, "参数错误：该快递公司需要 phone（手机号后四位）")
        parcel = self.world.parcels.get(number)
        if parcel is None or parcel.carrier_code != carrier or not parcel.scans:
            return error(QueryCode.no_result, "查询无结果，请隔段时间再查")
        body = last_result(com, number, parcel.scans, newest_first=order != "asc")
        return WireAnswer(body, "200", "ok")
