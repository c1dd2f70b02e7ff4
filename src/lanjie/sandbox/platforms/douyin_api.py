"""Douyin's OpenAPI under ``/douyin``: ``POST /afterSale/<name>`` signed as ``douyin_wire`` says.

Each request is checked in this order, the first failure answering: the path matches ``method``
(dots as slashes), the ``app_key`` is known (an unknown one cannot be verified: the bad-signature
answer), ``v=2`` and ``sign_method=hmac-sha256``, the signature over the exact body bytes, then the
``access_token``, then the JSON object in the body. The request's ``timestamp`` is not compared with
the clock (sandbox choice: the sim clock and lanjie's real clock differ by design).

Operations: ``afterSale.Detail``, ``afterSale.operate`` (types 201, 202, 111 and, for a return's
first approval, 101), ``afterSale.returnGoodsToWareHouseSuccess``, ``afterSale.submitEvidence``.
"""

from __future__ import annotations

import hmac
import itertools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lanjie.sandbox.platforms.douyin import COMPANIES, Arbitration, DouyinAfterSale, DouyinShop, Status
from lanjie.sandbox.platforms.douyin_wire import (
    BACK_OFFICE_ONLY,
    BAD_PARAMETER,
    BAD_SIGN,
    BAD_TOKEN,
    NO_ASSISTANT,
    NO_SUCH_CASE,
    NO_SUCH_METHOD,
    TYPE_MISMATCH,
    WRONG_STATUS,
    Refusal,
    sign,
    success,
)
from lanjie.sandbox.platforms.model import Actor, AfterSaleKind, PlatformRequest, Resolution
from lanjie.sandbox.wirefmt import wire_time

if TYPE_CHECKING:
    from lanjie.sandbox.platforms.douyin import DouyinPlatform

MAX_OPERATE_ITEMS = 20
REFUND_ONLY = (AfterSaleKind.refund_only_shipped, AfterSaleKind.refund_only_unshipped)
_STATUS_TEXT = {Status.waiting: "售后申请", Status.awaiting_return: "售后退货中", Status.return_shipped: "售后已发货",
                Status.succeeded: "售后成功", Status.rejected: "拒绝售后申请", Status.closed: "售后失败"}
_TYPE_TEXT = {0: "退货退款", 1: "已发货仅退款", 2: "未发货仅退款"}


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.sub_code)
        self.refusal = refusal


class DouyinAPI:
    """The OpenAPI operations over a ``DouyinPlatform``."""

    def __init__(self, platform: DouyinPlatform) -> None:
        self.platform = platform
        self.requests: list[PlatformRequest] = []
        self._log_ids = itertools.count(1)
        self._case_ids: tuple[int, ...] = ()  # the after-sales the request being answered named
        self._operations: dict[str, Callable[[DouyinShop, dict[str, Any]], dict[str, Any]]] = {
            "afterSale.Detail": self.detail, "afterSale.operate": self.operate,
            "afterSale.returnGoodsToWareHouseSuccess": self.warehouse_received,
            "afterSale.submitEvidence": self.submit_evidence,
        }

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post("/{path:path}", summary="Douyin OpenAPI (afterSale.*)")
        async def call(path: str, request: Request) -> JSONResponse:
            return JSONResponse(self.answer(path, dict(request.query_params), await request.body()))

        return router

    def answer(self, path: str, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """The envelope answering one request (always HTTP 200, as Douyin does)."""
        now = self.platform.world.clock.now()
        log_id = f"{wire_time(now).replace('-', '').replace(' ', '').replace(':', '')}{next(self._log_ids):08d}"
        method, app_key = query.get("method", ""), query.get("app_key", "")
        self._case_ids = ()
        try:
            shop, param = self._authenticated(path, query, body)
            data = self._operations[method](shop, param)
        except Refused as refused:
            self._log(method, app_key, refused.refusal.sub_code)
            return refused.refusal.answer(log_id)
        self._log(method, app_key, "10000")
        return success(data, log_id)

    def _log(self, method: str, app_key: str, code: str) -> None:
        self.requests.append(PlatformRequest(self.platform.world.clock.now(), method, app_key, self._case_ids, code))

    def _authenticated(self, path: str, query: dict[str, str], body: bytes) -> tuple[DouyinShop, dict[str, Any]]:
        method = query.get("method", "")
        if method not in self._operations or "/" + path.strip("/") != "/" + method.replace(".", "/"):
            raise Refused(NO_SUCH_METHOD)
        shop = self.platform.shops.get(query.get("app_key", ""))
        if shop is None:
            raise Refused(BAD_SIGN)
        if query.get("v") != "2" or query.get("sign_method") != "hmac-sha256":
            raise Refused(BAD_PARAMETER.saying("v 须为 2，sign_method 须为 hmac-sha256"))
        try:
            param_json = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(BAD_PARAMETER.saying("param_json 不是 UTF-8")) from None
        expected = sign(shop.app_key, shop.app_secret, method, param_json, query.get("timestamp", ""))
        if not hmac.compare_digest(expected.encode(), query.get("sign", "").encode()):
            raise Refused(BAD_SIGN)
        if not hmac.compare_digest(shop.access_token.encode(), query.get("access_token", "").encode()):
            raise Refused(BAD_TOKEN)
        try:
            param = json.loads(param_json)
        except ValueError:
            raise Refused(BAD_PARAMETER.saying("param_json 不是合法的 JSON")) from None
        if not isinstance(param, dict):
            raise Refused(BAD_PARAMETER.saying("param_json 须为 JSON 对象"))
        return shop, param

    def _case(self, shop: DouyinShop, value: object) -> DouyinAfterSale:
        """The shop's after-sale named by ``value`` (a number, or digits in a string)."""
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise Refused(BAD_PARAMETER.saying("aftersale_id 缺失或不是数字"))
        case = self.platform.cases.get(value)
        if case is None or case.shop is not shop:
            raise Refused(NO_SUCH_CASE)
        return case

    # ---- afterSale.Detail -------------------------------------------------------------------

    def detail(self, shop: DouyinShop, param: dict[str, Any]) -> dict[str, Any]:
        case = self._case(shop, param.get("after_sale_id"))
        self._case_ids = (case.aftersale_id,)
        state, state_time = self.platform.logistics_state(case)
        info = {
            "after_sale_id": case.aftersale_id, "after_sale_status": int(case.status),
            "after_sale_status_desc": _STATUS_TEXT[case.status], "after_sale_type": case.after_sale_type,
            "after_sale_type_text": _TYPE_TEXT[case.after_sale_type], "refund_status": case.refund_status,
            "refund_total_amount": case.refund_fen, "refund_amount": case.refund_fen, "refund_post_amount": 0,
            "real_refund_amount": case.refund_fen if case.refund_status == 3 else 0,
            "apply_time": case.apply_time, "update_time": case.update_time, "status_deadline": case.status_deadline,
            "reason": case.reason, "reason_code": 0, "got_pkg": 0,
            "part_type": 0 if case.refund_fen >= case.paid_fen else 1, "after_sale_apply_count": 1,
        }
        logistics: dict[str, Any] = {"order": [], "return": None, "exchange": None, "resend": None}
        if case.waybill_no:
            logistics["order"].append({
                "tracking_no": case.waybill_no, "company_code": case.company_code,
                "company_name": COMPANIES.get(case.company_code, ""), "logistics_state": state,
                "logistics_time": state_time, "value_added_services": [],
            })
        if case.return_tracking_no:
            logistics["return"] = {"tracking_no": case.return_tracking_no, "company_code": case.company_code,
                                   "company_name": COMPANIES.get(case.company_code, ""), "logistics_time": 0}
        arbitrate = {
            "arbitrate_id": case.arbitrate_id, "arbitrate_status": int(case.arbitration),
            "is_required_evidence": case.arbitration is Arbitration.wants_evidence,
            "arbitrate_opinion": "", "arbitrate_conclusion": case.arbitrate_conclusion,
            "arbitrate_create_time": case.arbitrate_create_time, "arbitrate_update_time": case.update_time,
            "arbitrate_evidence": {"images": [url for e in case.evidence for url in e["evidence"]],
                                   "describe": "; ".join(e["comment"] for e in case.evidence)},
        }
        records = [{"operator": h.actor, "time": wire_time(h.at), "text": h.outcome, "action": h.action, "role": 0}
                   for h in case.history] if param.get("need_operation_record") else []
        order = {"shop_order_id": case.p_id, "sku_order_infos": [{
            "sku_order_id": case.s_id, "pay_amount": case.paid_fen, "post_amount": 0, "item_quantity": 1,
            "product_name": "沙箱商品", "sku_pay_amount": case.paid_fen,
        }]}
        return {"process_info": {"after_sale_info": info, "arbitrate_info": arbitrate, "logistics_info": logistics,
                                 "record_logs_list": records}, "order_info": order}

    # ---- afterSale.operate ------------------------------------------------------------------

    def operate(self, shop: DouyinShop, param: dict[str, Any]) -> dict[str, Any]:
        op_type, items = param.get("type"), param.get("items")
        if op_type not in (101, 111, 201, 202):
            raise Refused(BAD_PARAMETER.saying("type: 沙箱支持 101、111、201、202"))
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_OPERATE_ITEMS:
            raise Refused(BAD_PARAMETER.saying(f"items: 1 至 {MAX_OPERATE_ITEMS} 个售后单"))
        if not all(isinstance(item, dict) for item in items):
            raise Refused(BAD_PARAMETER.saying("items: 每项须为对象"))
        cases: list[DouyinAfterSale] = []
        action = f"operate {op_type}"
        try:
            for item in items:
                case = self._case(shop, item.get("aftersale_id"))
                cases.append(case)
                self._check(case, op_type, item)
        except Refused as refused:
            self._case_ids = tuple(case.aftersale_id for case in cases)
            for case in cases:  # nothing applied: the whole batch failed on one item
                self.platform.note(case, Actor.merchant, action, refused.refusal.sub_code)
            raise
        self._case_ids = tuple(case.aftersale_id for case in cases)
        for case in cases:
            case.merchant_answered = True
            self.platform.note(case, Actor.merchant, action)
            if op_type in (201, 111):
                self.platform.refund(case, Resolution.merchant_refund)
            elif op_type == 202:
                self.platform.reject(case)
            else:
                self.platform.approve_return(case)
        return {"items": [{"aftersale_id": case.aftersale_id, "status_code": 0, "status_msg": "success"}
                          for case in cases]}

    def _check(self, case: DouyinAfterSale, op_type: int, item: dict[str, Any]) -> None:
        if case.back_office_only:
            raise Refused(BACK_OFFICE_ONLY)
        update_time = item.get("update_time")
        if isinstance(update_time, str) and update_time.isdigit():
            update_time = int(update_time)
        if update_time not in (None, 0) and update_time != case.update_time:
            raise Refused(WRONG_STATUS.saying("售后单已变更，请重新获取最新的 update_time"))
        waiting = case.status is Status.waiting
        allowed = {
            201: waiting and case.kind in REFUND_ONLY,
            202: waiting and case.kind in REFUND_ONLY and case.arbitration is Arbitration.none,
            101: waiting and case.kind is AfterSaleKind.return_refund,
            111: case.status is Status.return_shipped and case.kind is AfterSaleKind.return_refund,
        }[op_type]
        if not allowed:
            raise Refused(WRONG_STATUS)
        if op_type == 202:
            evidence = item.get("evidence")
            if (not item.get("reject_reason_code") or not (item.get("reason") or item.get("remark"))
                    or not isinstance(evidence, list) or not evidence):
                raise Refused(BAD_PARAMETER.saying("拒绝须填写 reject_reason_code、reason/remark 和 evidence"))

    # ---- afterSale.returnGoodsToWareHouseSuccess ---------------------------------------------

    def warehouse_received(self, shop: DouyinShop, param: dict[str, Any]) -> dict[str, Any]:
        case = self._case(shop, param.get("aftersale_id"))
        self._case_ids = (case.aftersale_id,)
        action = "returnGoodsToWareHouseSuccess"
        try:
            if not isinstance(param.get("op_time"), int):
                raise Refused(BAD_PARAMETER.saying("op_time: Unix 秒"))
            if not shop.assistant_strategy:
                raise Refused(NO_ASSISTANT)
            if case.kind is not AfterSaleKind.return_refund:
                raise Refused(TYPE_MISMATCH)
            if case.status not in (Status.awaiting_return, Status.return_shipped):
                raise Refused(WRONG_STATUS)
        except Refused as refused:
            self.platform.note(case, Actor.merchant, action, refused.refusal.sub_code)
            raise
        case.merchant_answered = True
        self.platform.note(case, Actor.merchant, action)
        self.platform.refund(case, Resolution.assistant_refund)
        return {}

    # ---- afterSale.submitEvidence -------------------------------------------------------------

    def submit_evidence(self, shop: DouyinShop, param: dict[str, Any]) -> dict[str, Any]:
        case = self._case(shop, param.get("aftersale_id"))
        self._case_ids = (case.aftersale_id,)
        evidence, comment = param.get("evidence"), param.get("comment", "")
        if (not isinstance(evidence, list) or not 1 <= len(evidence) <= 4
                or not all(isinstance(url, str) for url in evidence) or not isinstance(comment, str)):
            self.platform.note(case, Actor.merchant, "submitEvidence", BAD_PARAMETER.sub_code)
            raise Refused(BAD_PARAMETER.saying("evidence: 1 至 4 个凭证链接"))
        if case.finished:
            self.platform.note(case, Actor.merchant, "submitEvidence", WRONG_STATUS.sub_code)
            raise Refused(WRONG_STATUS)
        self.platform.note(case, Actor.merchant, "submitEvidence")
        self.platform.submit_evidence(case, evidence, comment)
        return {}
