"""Taobao's TOP router under ``/taobao``: ``POST /router/rest`` signed as ``taobao_wire`` says.

Checks in order, the first failure answering: ``method`` present (21) and known (22), ``app_key``
known (29), ``format=json``, ``v=2.0`` and ``sign_method=md5`` (41), the signature over every field
received (25), the ``session`` of that shop (27). The ``timestamp`` is not compared with the clock.

Methods: ``taobao.refund.get``, ``taobao.refund.detail.get``, ``taobao.rp.refund.intercept``,
``taobao.rp.refunds.agree``, ``taobao.refund.refuse``.
"""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lanjie.sandbox.platforms.model import Actor, PlatformRequest, Resolution, yuan
from lanjie.sandbox.platforms.taobao import BATCH_LIMITS, SMS_ABOVE_FEN, RefundStatus, TaobaoRefund, TaobaoShop
from lanjie.sandbox.platforms.taobao_wire import (
    BAD_APP_KEY,
    BAD_METHOD,
    BAD_SESSION,
    BAD_SIGN,
    BATCH_LIMIT,
    FEE_MISMATCH,
    NEED_VERIFY_CODE,
    NO_METHOD,
    NO_SUCH_REFUND,
    STATUS_NOT_SUPPORTED,
    VERSION_EXPIRED,
    TopError,
    business,
    invalid,
    missing,
    response_key,
    sign,
)
from lanjie.sandbox.serving import read
from lanjie.sandbox.wirefmt import wire_time

if TYPE_CHECKING:
    from lanjie.sandbox.platforms.taobao import TaobaoPlatform

Fields = dict[str, str]


class Refused(Exception):
    def __init__(self, error: TopError) -> None:
        super().__init__(error.sub_code or error.msg)
        self.error = error


class TaobaoAPI:
    """The TOP methods over a ``TaobaoPlatform``."""

    def __init__(self, platform: TaobaoPlatform) -> None:
        self.platform = platform
        self.requests: list[PlatformRequest] = []
        self._request_ids = itertools.count(1)
        self._case_ids: tuple[int, ...] = ()
        self._methods: dict[str, Callable[[TaobaoShop, Fields], dict[str, Any]]] = {
            "taobao.refund.get": self.refund_get, "taobao.refund.detail.get": self.detail_get,
            "taobao.rp.refund.intercept": self.intercept, "taobao.rp.refunds.agree": self.agree,
            "taobao.refund.refuse": self.refuse,
        }

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post("/router/rest", summary="TOP router (taobao.refund.*, taobao.rp.*)")
        async def rest(request: Request) -> JSONResponse:
            return JSONResponse(self.answer(dict((await read(request)).fields)))

        return router

    def answer(self, fields: Fields) -> dict[str, Any]:
        request_id = f"sbx{next(self._request_ids):010x}"
        method, app_key = fields.get("method", ""), fields.get("app_key", "")
        self._case_ids = ()
        try:
            shop = self._authenticated(fields)
            body = self._methods[method](shop, fields)
        except Refused as refused:
            self._log(method, app_key, refused.error.sub_code or str(refused.error.code))
            return refused.error.answer(request_id)
        self._log(method, app_key, "0")
        return {response_key(method): {**body, "request_id": request_id}}

    def _log(self, method: str, app_key: str, code: str) -> None:
        self.requests.append(PlatformRequest(self.platform.world.clock.now(), method, app_key, self._case_ids, code))

    def _authenticated(self, fields: Fields) -> TaobaoShop:
        method = fields.get("method", "")
        if not method:
            raise Refused(NO_METHOD)
        if method not in self._methods:
            raise Refused(BAD_METHOD)
        shop = self.platform.shops.get(fields.get("app_key", ""))
        if shop is None:
            raise Refused(BAD_APP_KEY)
        for name, value in (("format", "json"), ("v", "2.0"), ("sign_method", "md5")):
            if fields.get(name) != value:
                raise Refused(invalid(name))
        if not hmac.compare_digest(sign(fields, shop.app_secret).encode(), fields.get("sign", "").encode()):
            raise Refused(BAD_SIGN)
        if not hmac.compare_digest(shop.session.encode(), fields.get("session", "").encode()):
            raise Refused(BAD_SESSION)
        return shop

    def _number(self, fields: Fields, name: str, *, required: bool = True) -> int | None:
        value = fields.get(name, "")
        if not value:
            if required:
                raise Refused(missing(name))
            return None
        if not value.isdigit():
            raise Refused(invalid(name))
        return int(value)

    def _case(self, shop: TaobaoShop, fields: Fields) -> TaobaoRefund:
        refund_id = self._number(fields, "refund_id")
        case = self.platform.cases.get(refund_id or 0)
        if case is None or case.shop is not shop:
            raise Refused(business(NO_SUCH_REFUND, "退款单不存在"))
        self._case_ids = (case.refund_id,)
        return case

    def _locked(self, case: TaobaoRefund, fields: Fields, action: str, *, required: bool) -> None:
        """The ``refund_version`` lock: a stale version is refused (and recorded)."""
        version = self._number(fields, "refund_version", required=required)
        if version is not None and version != case.refund_version:
            self.platform.note(case, Actor.merchant, action, VERSION_EXPIRED)
            raise Refused(business(VERSION_EXPIRED, "退款版本已过期，请获取最新的refund_version"))

    # ---- reads -------------------------------------------------------------------------------

    def refund_get(self, shop: TaobaoShop, fields: Fields) -> dict[str, Any]:
        case = self._case(shop, fields)
        paid = case.refund_fen if case.status is RefundStatus.SUCCESS else 0
        refund: dict[str, Any] = {
            "refund_id": str(case.refund_id), "tid": case.tid, "oid": case.oid, "status": case.status,
            "dispute_type": case.dispute_type, "good_status": case.good_status,
            "has_good_return": case.dispute_type == "REFUND_AND_RETURN", "refund_fee": yuan(case.refund_fen),
            "total_fee": yuan(case.paid_fen), "payment": yuan(case.paid_fen - paid), "refund_phase": "onsale",
            "refund_version": case.refund_version, "created": wire_time(case.created_at),
            "modified": wire_time(case.modified_at or case.created_at), "reason": case.reason, "desc": "",
            "buyer_nick": "sandbox_buyer", "seller_nick": shop.seller_nick, "cs_status": case.cs_status,
            "attribute": case.attribute(), "sid": case.return_sid, "num": 1, "title": "沙箱商品",
            "order_status": "WAIT_SELLER_SEND_GOODS" if case.kind.value == "refund_only_unshipped"
            else "WAIT_BUYER_CONFIRM_GOODS",
            "refund_remind_timeout": {
                "exist_timeout": case.deadline_at is not None,
                "remind_type": 2 if case.intercept is not None and case.deadline_at is not None else 1,
                "timeout": wire_time(case.deadline_at) if case.deadline_at is not None else "",
            },
        }
        wanted = {name.strip() for name in fields.get("fields", "").split(",") if name.strip()}
        return {"refund": {k: v for k, v in refund.items() if not wanted or k in wanted}}

    def detail_get(self, shop: TaobaoShop, fields: Fields) -> dict[str, Any]:
        case = self._case(shop, fields)
        operations = []
        if self.platform.intercept_allowed(case):
            operations.append("APPLY_DELIVERY_INTERCEPT_V2")
        if case.status is RefundStatus.WAIT_SELLER_AGREE and case.cs_status == 1:
            if case.dispute_type == "REFUND":
                operations.append("NEGOTIATE_TO_RETURN_AND_REFUND")
            if case.intercept is None:
                operations.append("SELLER_REFUSE")
        return {"refund_version": case.refund_version, "allowed_operations": {"string": operations}}

    # ---- writes ------------------------------------------------------------------------------

    def intercept(self, shop: TaobaoShop, fields: Fields) -> dict[str, Any]:
        case = self._case(shop, fields)
        self._locked(case, fields, "rp.refund.intercept", required=True)
        if not self.platform.intercept_allowed(case):
            self.platform.note(case, Actor.merchant, "rp.refund.intercept", STATUS_NOT_SUPPORTED)
            raise Refused(business(STATUS_NOT_SUPPORTED, "当前退款状态不支持卖家发起拦截"))
        self.platform.note(case, Actor.merchant, "rp.refund.intercept")
        self.platform.commit_intercept(case)
        return {}

    def refuse(self, shop: TaobaoShop, fields: Fields) -> dict[str, Any]:
        case = self._case(shop, fields)
        message = fields.get("refuse_message", "")
        if not message:
            raise Refused(missing("refuse_message"))
        if not 2 <= len(message) <= 200:
            raise Refused(invalid("refuse_message"))
        self._locked(case, fields, "refund.refuse", required=False)
        if (case.status not in (RefundStatus.WAIT_SELLER_AGREE, RefundStatus.WAIT_SELLER_CONFIRM_GOODS)
                or case.intercept is not None or case.cs_status != 1):
            self.platform.note(case, Actor.merchant, "refund.refuse", STATUS_NOT_SUPPORTED)
            raise Refused(business(STATUS_NOT_SUPPORTED, "当前退款状态不支持拒绝"))
        self.platform.note(case, Actor.merchant, "refund.refuse", detail=message)
        self.platform.refuse(case)
        return {"refund": {"refund_id": str(case.refund_id), "status": case.status,
                           "modified": wire_time(case.modified_at or case.created_at)}}

    def agree(self, shop: TaobaoShop, fields: Fields) -> dict[str, Any]:
        """``taobao.rp.refunds.agree``: each refund succeeds or fails on its own (SOME_OP_SUCC)."""
        raw = fields.get("refund_infos", "")
        if not raw:
            raise Refused(missing("refund_infos"))
        entries: list[tuple[int, int, int]] = []
        for entry in raw.split(","):
            parts = entry.strip().split("|")
            if len(parts) not in (3, 4) or not all(part.isdigit() for part in parts[:3]):
                raise Refused(invalid("refund_infos"))
            entries.append((int(parts[0]), int(parts[1]), int(parts[2])))
        most, most_fen = BATCH_LIMITS[shop.platform]
        total_fen = sum(amount for _, amount, _ in entries)
        if len(entries) > most or total_fen > most_fen:
            raise Refused(business(BATCH_LIMIT, f"一次最多{most}笔、合计不超过{yuan(most_fen)}元"))
        self._case_ids = tuple(refund_id for refund_id, _, _ in entries)
        code = fields.get("code", "")
        results = []
        for refund_id, amount, version in entries:
            failure = self._agree_one(shop, refund_id, amount, version, code)
            results.append({"refund_id": refund_id, "succ": failure is None, "message": failure or "success"})
        succeeded = sum(1 for result in results if result["succ"])
        msg_code = ("OP_SUCC" if succeeded == len(results) else "SOME_OP_SUCC" if succeeded else "OP_FAILURE_UE")
        msg = {"OP_SUCC": "操作成功", "SOME_OP_SUCC": "部分操作成功", "OP_FAILURE_UE": "操作失败"}[msg_code]
        return {"msg_code": msg_code, "msg": msg, "succ": msg_code == "OP_SUCC",
                "results": {"refund_mapping_result": results}}

    def _agree_one(self, shop: TaobaoShop, refund_id: int, amount: int, version: int, code: str) -> str | None:
        """None when the refund was agreed and paid, else the decided sub-code saying why not."""
        case = self.platform.cases.get(refund_id)
        if case is None or case.shop is not shop:
            return NO_SUCH_REFUND
        failure: str | None = None
        if version != case.refund_version:
            failure = VERSION_EXPIRED
        elif not ((case.status is RefundStatus.WAIT_SELLER_AGREE and case.dispute_type == "REFUND")
                  or case.status is RefundStatus.WAIT_SELLER_CONFIRM_GOODS):
            failure = STATUS_NOT_SUPPORTED
        elif amount != case.refund_fen:
            failure = FEE_MISMATCH
        elif amount > SMS_ABOVE_FEN and not code:
            failure = NEED_VERIFY_CODE
        self.platform.note(case, Actor.merchant, "rp.refunds.agree", failure or "ok")
        if failure is None:
            case.merchant_answered = True
            self.platform.pay(case, Resolution.merchant_refund)
        return failure
