"""Control routes of the sales-platform simulator, under ``/control/platforms`` (JSON, no authentication).

Register shops and set their push URLs, create after-sales as a buyer would, read an after-sale's
whole state (codes, version, deadline, arbitration, intercept, what was received and pushed), force
a buyer's action now, and change what only the platform's back office could (the deadline, the
"back office only" switch behind Douyin's 11001).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from lanjie.sandbox.platforms.buyers import drawn_plan
from lanjie.sandbox.platforms.douyin import DouyinAfterSale
from lanjie.sandbox.platforms.model import AfterSaleKind, BuyerAction, BuyerPlan, Resolution, Verdict
from lanjie.sandbox.platforms.taobao import TaobaoRefund
from lanjie.sandbox.wirefmt import wire_time
from lanjie.sandbox.world import WorldError

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld


class Platform(StrEnum):
    douyin = "douyin"
    taobao = "taobao"


_SHOP_FIELDS = {
    Platform.douyin: {"app_key", "app_secret", "access_token", "shop_id", "push_url", "assistant_strategy"},
    Platform.taobao: {"app_key", "app_secret", "session", "seller_nick", "platform", "push_url"},
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShopIn(_Body):
    app_key: str = Field(min_length=1, max_length=100)
    app_secret: str | None = Field(None, min_length=1, max_length=200)
    access_token: str | None = Field(None, min_length=1, max_length=500)  # Douyin
    shop_id: str | None = Field(None, pattern=r"^[0-9]{1,19}$")  # Douyin
    session: str | None = Field(None, min_length=1, max_length=500)  # Taobao
    seller_nick: str | None = Field(None, min_length=1, max_length=100)  # Taobao
    platform: str | None = Field(None, pattern=r"^(taobao|tmall)$")  # Taobao: picks the batch limits
    push_url: str | None = Field(None, pattern=r"^https?://", max_length=500)
    assistant_strategy: bool | None = None  # Douyin: 售后小助手 "auto-refund on return to warehouse"


class BuyerIn(_Body):
    cancel_after_seconds: float | None = Field(None, ge=0)
    change_type_after_seconds: float | None = Field(None, ge=0)
    change_type_to: AfterSaleKind = AfterSaleKind.return_refund
    escalate_after_rejection_seconds: float | None = Field(None, ge=0)
    escalate_if_unanswered_seconds: float | None = Field(None, ge=0)


class AfterSaleIn(_Body):
    shop: str | None = Field(None, min_length=1, max_length=100)  # the shop's app_key; default: the test shop
    order_id: str = Field("", max_length=19)  # digits; default: a new order id
    type: AfterSaleKind
    refund_fen: int = Field(gt=0)
    paid_fen: int | None = Field(None, gt=0)  # default: refund_fen (a full refund)
    waybill_no: str = Field("", pattern=r"^([A-Za-z0-9-]{4,40})?$")
    company_code: str = Field("", max_length=40)  # Douyin company code; default: from the world's parcel
    reason: str = Field("不想要了", max_length=200)
    deadline_seconds: float | None = Field(None, gt=0)
    buyer: BuyerIn | None = None
    verdict: Verdict | None = None  # how arbitration ends; default: the configured rule
    back_office_only: bool = False  # Douyin: operate answers 11001


class BuyerActionIn(_Body):
    action: BuyerAction
    to: AfterSaleKind | None = None  # change_type: the new kind (default: the plan's)


class SettingsIn(_Body):
    back_office_only: bool | None = None  # Douyin only
    deadline_seconds: float | None = Field(None, gt=0)  # a new deadline this far from now


def _iso(at: Any) -> str | None:
    return at.isoformat() if at is not None else None


def douyin_view(case: DouyinAfterSale) -> dict[str, Any]:
    return {
        "platform": "douyin", "id": case.aftersale_id, "aftersale_id": case.aftersale_id, "shop": case.shop.app_key,
        "shop_id": case.shop.shop_id, "p_id": case.p_id, "s_id": case.s_id, "type": case.kind,
        "after_sale_type": case.after_sale_type, "after_sale_status": int(case.status),
        "refund_status": case.refund_status, "refund_fen": case.refund_fen, "paid_fen": case.paid_fen,
        "waybill_no": case.waybill_no, "company_code": case.company_code, "update_time": case.update_time,
        "status_deadline": case.status_deadline, "arbitrate_status": int(case.arbitration),
        "arbitrate_id": case.arbitrate_id, "arbitrate_conclusion": case.arbitrate_conclusion,
        "back_office_only": case.back_office_only, "return_tracking_no": case.return_tracking_no,
        "evidence": case.evidence, **_outcome(case.resolution, case.refund_paid_at),
        "buyer": case.plan.view(), "verdict": case.verdict,
        "operations": [h.view() for h in case.history], "messages": [m.view() for m in case.messages],
    }


def taobao_view(case: TaobaoRefund) -> dict[str, Any]:
    return {
        "platform": "taobao", "id": case.refund_id, "refund_id": case.refund_id, "shop": case.shop.app_key,
        "tid": case.tid, "oid": case.oid, "type": case.kind, "dispute_type": case.dispute_type,
        "status": case.status, "good_status": case.good_status, "refund_fen": case.refund_fen,
        "paid_fen": case.paid_fen, "waybill_no": case.waybill_no, "refund_version": case.refund_version,
        "deadline_at": _iso(case.deadline_at),
        "timeout": wire_time(case.deadline_at) if case.deadline_at is not None else None,
        "intercept": case.intercept, "intercept_at": _iso(case.intercept_at), "attribute": case.attribute(),
        "cs_status": case.cs_status, "return_sid": case.return_sid,
        **_outcome(case.resolution, case.refund_paid_at), "buyer": case.plan.view(), "verdict": case.verdict,
        "operations": [h.view() for h in case.history], "messages": [m.view() for m in case.messages],
    }


def _outcome(resolution: Resolution | None, paid_at: Any) -> dict[str, Any]:
    return {"refund_paid": paid_at is not None, "refund_paid_at": _iso(paid_at), "resolution": resolution,
            "auto_agreed_on_timeout": resolution is Resolution.timeout_refund}


def platform_control_router(world: SandboxWorld) -> APIRouter:
    """Routes to include under ``/control/platforms``."""
    router = APIRouter()
    platforms = world.platforms

    def shop_view(platform: Platform, app_key: str) -> dict[str, Any]:
        if platform is Platform.douyin:
            dy = platforms.douyin.shop(app_key)
            return {"platform": "douyin", "app_key": dy.app_key, "shop_id": dy.shop_id, "push_url": dy.push_url,
                    "assistant_strategy": dy.assistant_strategy}
        tb = platforms.taobao.shop(app_key)
        return {"platform": tb.platform, "app_key": tb.app_key, "seller_nick": tb.seller_nick,
                "user_id": tb.user_id, "push_url": tb.push_url}

    def view(platform: Platform, case_id: int) -> dict[str, Any]:
        if platform is Platform.douyin:
            return douyin_view(platforms.douyin.case(case_id))
        return taobao_view(platforms.taobao.case(case_id))

    @router.get("", summary="The simulated platforms, their test credentials and shops")
    async def overview() -> dict[str, Any]:
        return {
            "douyin": {"prefix": "/douyin", "test_credentials": dict(platforms.douyin.test_credentials),
                       "shops": [shop_view(Platform.douyin, key) for key in platforms.douyin.shops]},
            "taobao": {"prefix": "/taobao", "test_credentials": dict(platforms.taobao.test_credentials),
                       "shops": [shop_view(Platform.taobao, key) for key in platforms.taobao.shops]},
        }

    @router.post("/{platform}/shops", summary="Register a shop, or set the push URL of a known one")
    async def register_shop(platform: Platform, body: ShopIn) -> dict[str, Any]:
        given = body.model_dump(exclude_none=True)
        foreign = sorted(set(given) - _SHOP_FIELDS[platform])
        if foreign:
            raise WorldError(422, f"{foreign[0]}: not a {platform} shop field")
        shop = (platforms.douyin if platform is Platform.douyin else platforms.taobao).register_shop(given)
        return shop_view(platform, shop.app_key)

    @router.post("/{platform}/aftersales", status_code=201, summary="A buyer files an after-sale")
    async def create(platform: Platform, body: AfterSaleIn) -> dict[str, Any]:
        paid_fen = body.paid_fen or body.refund_fen
        if body.refund_fen > paid_fen:
            raise WorldError(422, "refund_fen: more than paid_fen")
        if body.type is AfterSaleKind.refund_only_shipped and not body.waybill_no:
            raise WorldError(422, "waybill_no: a refund-only request after shipment names the parcel")
        plan = BuyerPlan(**body.buyer.model_dump()) if body.buyer is not None else BuyerPlan()
        rates = world.config.platforms.population
        if body.buyer is None and rates is not None:
            plan = drawn_plan(platforms.rng, rates, body.type)
        common = {"kind": body.type, "order_id": body.order_id, "refund_fen": body.refund_fen, "paid_fen": paid_fen,
                  "waybill_no": body.waybill_no, "reason": body.reason, "deadline_seconds": body.deadline_seconds,
                  "plan": plan, "verdict": body.verdict}
        if platform is Platform.douyin:
            dy_shop = platforms.douyin.shop(body.shop or platforms.douyin.test_credentials["app_key"])
            dy_case = platforms.douyin.create(shop=dy_shop, company_code=body.company_code, **common)
            dy_case.back_office_only = body.back_office_only
            return douyin_view(dy_case)
        if body.back_office_only or body.company_code:
            raise WorldError(422, "back_office_only, company_code: Douyin only")
        tb_shop = platforms.taobao.shop(body.shop or platforms.taobao.test_credentials["app_key"])
        return taobao_view(platforms.taobao.create(shop=tb_shop, **common))

    @router.get("/{platform}/aftersales", summary="Every after-sale of the platform, newest last")
    async def list_all(platform: Platform) -> dict[str, Any]:
        cases = platforms.douyin.cases if platform is Platform.douyin else platforms.taobao.cases
        return {"aftersales": [view(platform, case_id) for case_id in cases]}

    @router.get("/{platform}/aftersales/{case_id}", summary="An after-sale's whole state")
    async def get(platform: Platform, case_id: int) -> dict[str, Any]:
        return view(platform, case_id)

    @router.post("/{platform}/aftersales/{case_id}/buyer", summary="The buyer acts now")
    async def buyer(platform: Platform, case_id: int, body: BuyerActionIn) -> dict[str, Any]:
        side = platforms.douyin if platform is Platform.douyin else platforms.taobao
        view(platform, case_id)  # 404 for an unknown id
        if not side.buyer_act(case_id, body.action, forced=True, to=body.to):
            raise WorldError(409, f"action: {body.action} does not apply to after-sale {case_id} now")
        return view(platform, case_id)

    @router.post("/{platform}/aftersales/{case_id}/settings", summary="Change the deadline or the 11001 switch")
    async def settings(platform: Platform, case_id: int, body: SettingsIn) -> dict[str, Any]:
        if platform is Platform.douyin:
            dy_case = platforms.douyin.case(case_id)
            if body.back_office_only is not None:
                dy_case.back_office_only = body.back_office_only
            if body.deadline_seconds is not None:
                platforms.douyin.move_deadline(dy_case, body.deadline_seconds)
        else:
            tb_case = platforms.taobao.case(case_id)
            if body.back_office_only is not None:
                raise WorldError(422, "back_office_only: Douyin only")
            if body.deadline_seconds is not None:
                platforms.taobao.move_deadline(tb_case, body.deadline_seconds)
        return view(platform, case_id)

    @router.get("/{platform}/requests", summary="API calls the platform received, oldest first")
    async def requests(platform: Platform) -> dict[str, Any]:
        api = platforms.douyin_api if platform is Platform.douyin else platforms.taobao_api
        return {"requests": [request.view() for request in api.requests]}

    return router
