"""Kuaidi100 work orders (工单): the signed form, the call, the answers, the status query and the callback."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

import httpx
import pytest

from lanjie.carriers.base import Capability, ClaimAck, ClaimAttachment, ClaimRequest, ClaimState
from lanjie.carriers.errors import CarrierRejected, CarrierUnavailable, MalformedPush, NotSupported, SignatureInvalid
from lanjie.carriers.kuaidi100 import Kuaidi100, workorder
from lanjie.carriers.registry import load_carriers
from lanjie.domain.states import ClaimStatus, ClaimType

from .kuaidi100_support import ACCOUNT, API, CALLBACK, KEY, SALT, SECRET, WAYBILL, form_of, kuaidi100

T = "1717228800123"  # kuaidi100_support.NOW in milliseconds
REQUEST = ClaimRequest(
    request_id="clm_1", carrier_code="yunda", waybill_no=WAYBILL, type=ClaimType.damage, amount_minor=4500,
    goods_value_minor=12800, description="退回途中外包装破损", callback_url=CALLBACK, contact_name="王五",
    contact_phone="13800138000",
    attachments=(ClaimAttachment("box.jpg", "image/jpeg", b"\xff\xd8jpeg", "photo"),
                 ClaimAttachment("order.pdf", "application/pdf", b"%PDF-1", "proof_of_value")),
)
# Written out by hand: field order, compact separators, raw UTF-8, Base64 of the two files (printf … | base64).
PARAM = ('{"secondType":5,"kuaidinum":"78912345678901","desc":{"content":"退回途中外包装破损\\n索赔金额：45.00 元'
         '\\nlanjie 理赔单号：clm_1\\n联系人：王五 13800138000","attach":[{"name":"box.jpg","type":"image/jpeg",'
         '"category":"photo","content":"/9hqcGVn"},{"name":"order.pdf","type":"application/pdf",'
         '"category":"proof_of_value","content":"JVBERi0x"}]},"callBackUrl":"https://lanjie.example/cb/k100/tok123",'
         '"modityValue":"128.00","salt":"sa1tForPushes2024xyz"}')
# Known answers, computed outside Python: printf '%s' "$PARAM$T$KEY$SECRET" | md5sum | tr a-f A-F
KNOWN_SIGN = "A9A937659227DDA14D0C0910C0AB332B"
DETAIL_SIGN = "FE8CA4943EFFB71EDA5870D22805AA1B"  # param {"id":880001}


def created(code: int = 200, message: str = "提交成功", data: dict[str, object] | None = None) -> httpx.Response:
    body = {"code": code, "message": message, "time": 1717228800200, "success": code == 200,
            "data": data if data is not None else {"id": 880001, "status": 0}}
    return httpx.Response(200, json=body)


def detail(status: int, **fields: object) -> httpx.Response:
    data = {"id": 880001, "kuaidinum": WAYBILL, "secondType": 5, "status": status, "statusDesc": "",
            "modityValue": "128.00", "compensateValue": "", "reply": "", "needMaterials": [],
            "createTime": "2024-06-01 16:00:00", "updateTime": "2024-06-02 16:00:00", **fields}
    return httpx.Response(200, json={"code": 200, "message": "查询成功", "time": 1, "success": True, "data": data})


def signed_callback(param: str, salt: str = SALT) -> bytes:
    sign = hashlib.md5((param + salt).encode()).hexdigest().upper()
    return urlencode({"param": param, "sign": sign}).encode()


# -- the request -------------------------------------------------------------------------------------

def test_work_order_form_is_signed_over_the_exact_param_it_sends() -> None:
    param = workorder.create_param(REQUEST, salt=SALT)
    form = workorder.signed_form(param, key=KEY, secret=SECRET, t=T)

    assert param == PARAM
    assert hashlib.md5((PARAM + T + KEY + SECRET).encode()).hexdigest().upper() == KNOWN_SIGN
    assert form == {"key": KEY, "sign": KNOWN_SIGN, "t": T, "param": PARAM}
    assert list(form) == ["key", "sign", "t", "param"]


@pytest.mark.parametrize(("kind", "second_type"), [(ClaimType.damage, 5), (ClaimType.loss, 6), (ClaimType.short, 7)])
def test_each_claim_type_names_its_work_order_type(kind: ClaimType, second_type: int) -> None:
    request = ClaimRequest("clm_2", "sto", "SN1", kind, 100, 2999, "丢件")
    param = workorder.create_param(request, salt="s")

    assert param == ('{"secondType":' + str(second_type) + ',"kuaidinum":"SN1","desc":{"content":"丢件\\n'
                     '索赔金额：1.00 元\\nlanjie 理赔单号：clm_2"},"modityValue":"29.99","salt":"s"}')


@pytest.mark.anyio
async def test_filing_posts_the_signed_form_and_reads_the_work_order_id() -> None:
    async with kuaidi100(created()) as (carrier, script):
        ack = await carrier.file_claim(REQUEST)

    assert ack == ClaimAck(accepted=True, claim_ref="880001", message="提交成功")
    (sent,) = script.seen
    assert (sent.method, str(sent.url)) == ("POST", f"{API}/workorder/api/create")
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.content == urlencode([("key", KEY), ("sign", KNOWN_SIGN), ("t", T), ("param", PARAM)]).encode()
    assert form_of(sent)["param"] == [PARAM]


@pytest.mark.anyio
async def test_the_exchange_log_keeps_attachment_digests_not_their_bytes_nor_secrets() -> None:
    async with kuaidi100(created()) as (carrier, _script):
        await carrier.file_claim(REQUEST)

    (exchange,) = carrier.exchanges
    kept = json.loads(exchange.request_body)
    assert kept["key"] == kept["sign"] == kept["param"]["salt"] == "***"
    photo, order = (hashlib.sha256(raw).hexdigest()[:16] for raw in (b"\xff\xd8jpeg", b"%PDF-1"))
    attach = kept["param"]["desc"]["attach"]
    assert [item["content"] for item in attach] == [f"<6 bytes, sha256 {photo}>", f"<6 bytes, sha256 {order}>"]
    assert "/9hqcGVn" not in exchange.request_body and "13800138000" not in exchange.request_body
    assert exchange.operation == "file_claim" and exchange.status_code == 200


# -- answers -----------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_an_open_work_order_of_the_same_type_counts_as_filed_with_its_id() -> None:
    async with kuaidi100(created(30203, "该单号已有同类工单", {"id": 880007, "status": 1})) as (carrier, _):
        ack = await carrier.file_claim(REQUEST)

    assert ack == ClaimAck(accepted=True, claim_ref="880007", message="该单号已有同类工单")


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "message"), [(30201, "单号不存在"), (30202, "该快递公司暂不支持工单")])
async def test_a_claim_kuaidi100_cannot_take_is_refused_not_raised(code: int, message: str) -> None:
    async with kuaidi100(created(code, message, {})) as (carrier, _):
        ack = await carrier.file_claim(REQUEST)

    assert ack == ClaimAck(accepted=False, claim_ref=None, message=message)


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "reason"), [(400, "carrier_error"), (403, "auth_failed"), (429, "rate_limited")])
async def test_a_refused_request_raises_with_its_reason(code: int, reason: str) -> None:
    async with kuaidi100(created(code, "错误", {})) as (carrier, _):
        with pytest.raises(CarrierRejected) as raised:
            await carrier.file_claim(REQUEST)

    assert (raised.value.code, raised.value.reason) == (str(code), reason)


@pytest.mark.anyio
async def test_filed_without_a_work_order_id_is_unavailable() -> None:
    async with kuaidi100(created(200, "提交成功", {})) as (carrier, _):
        with pytest.raises(CarrierUnavailable):
            await carrier.file_claim(REQUEST)


@pytest.mark.anyio
async def test_a_courier_work_orders_do_not_serve_is_refused_before_any_call() -> None:
    zto = ClaimRequest("clm_3", "zto", WAYBILL, ClaimType.loss, 100, 100, "丢件")
    async with kuaidi100() as (carrier, script):
        with pytest.raises(NotSupported, match="not 'zto'"):
            await carrier.file_claim(zto)

    assert script.seen == [] and carrier.exchanges == []


@pytest.mark.anyio
async def test_another_currency_or_a_missing_salt_is_refused_before_any_call() -> None:
    usd = ClaimRequest("clm_4", "yto", WAYBILL, ClaimType.loss, 100, 100, "lost", currency="USD")
    async with kuaidi100() as (carrier, script):
        with pytest.raises(CarrierRejected, match="CNY"):
            await carrier.file_claim(usd)
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        account = type(ACCOUNT)("kuaidi100", {"key": KEY, "secret": SECRET}, ACCOUNT.endpoints)
        no_salt = Kuaidi100(account, client)
        with pytest.raises(CarrierRejected, match="salt") as raised:
            await no_salt.file_claim(REQUEST)

    assert script.seen == [] and no_salt.exchanges == [] and raised.value.reason == "auth_failed"


# -- the status query --------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_claim_status_posts_the_signed_detail_query() -> None:
    async with kuaidi100(detail(1, statusDesc="处理中", reply="工单处理中")) as (carrier, script):
        state = await carrier.claim_status("yunda", WAYBILL, "880001")

    assert state == ClaimState("880001", ClaimStatus.in_review, None, "工单处理中", (), WAYBILL)
    (sent,) = script.seen
    assert str(sent.url) == f"{API}/workorder/api/detail"
    assert sent.content == urlencode([("key", KEY), ("sign", DETAIL_SIGN), ("t", T),
                                      ("param", '{"id":880001}')]).encode()


@pytest.mark.parametrize(("status", "fields", "expected"), [
    (0, {}, ClaimState("880001", ClaimStatus.in_review, None, "", (), WAYBILL)),
    (2, {"reply": "请补充材料", "needMaterials": ["破损照片", "情况说明"]},
     ClaimState("880001", ClaimStatus.waiting_on_documents, None, "请补充材料", ("破损照片", "情况说明"), WAYBILL)),
    (3, {"compensateValue": "128.00"}, ClaimState("880001", ClaimStatus.approved, 12800, "", (), WAYBILL)),
    (4, {"compensateValue": "36.5", "statusDesc": "部分赔付"},
     ClaimState("880001", ClaimStatus.approved_partial, 3650, "部分赔付", (), WAYBILL)),
    (5, {"reply": "已超过理赔申请时效"},
     ClaimState("880001", ClaimStatus.rejected, None, "已超过理赔申请时效", (), WAYBILL)),
    (6, {"compensateValue": "128.00"}, ClaimState("880001", ClaimStatus.paid, 12800, "", (), WAYBILL)),
    (7, {}, ClaimState("880001", ClaimStatus.closed, None, "", (), WAYBILL)),
    (99, {}, ClaimState("880001", ClaimStatus.in_review, None, "", (), WAYBILL)),
])
def test_each_work_order_status_maps_onto_lanjies_claim_status(status: int, fields: dict[str, object],
                                                               expected: ClaimState) -> None:
    body = json.loads(detail(status, **fields).content)

    assert workorder.parse_detail_answer(body) == expected


def test_an_unknown_work_order_or_a_malformed_one_raises() -> None:
    with pytest.raises(CarrierRejected) as raised:
        workorder.parse_detail_answer({"code": 30204, "message": "工单不存在", "data": {}})
    assert raised.value.code == "30204"
    with pytest.raises(CarrierUnavailable, match="bad amount"):
        workorder.parse_detail_answer({"code": 200, "data": {"id": 1, "status": 3, "compensateValue": "十元"}})
    with pytest.raises(CarrierUnavailable, match="no id"):
        workorder.parse_detail_answer({"code": 200, "data": {"status": 3}})


# -- the result callback -----------------------------------------------------------------------------

CALLBACK_PARAM = ('{"workorderId":880001,"kuaidinum":"78912345678901","status":4,"statusDesc":"部分赔付",'
                  '"compensateValue":"60.00","reply":"部分赔付 60.00 元","needMaterials":[],'
                  '"time":"2024-06-10 16:00:00"}')


def _no_call(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"parsing a push must not call out: {request.url}")


def parser() -> Kuaidi100:
    return Kuaidi100(ACCOUNT, httpx.AsyncClient(transport=httpx.MockTransport(_no_call)))


def test_a_work_order_callback_parses_into_a_claim_push_acknowledged_like_any_push() -> None:
    carrier = parser()
    push = carrier.parse_push(signed_callback(CALLBACK_PARAM), "application/x-www-form-urlencoded")

    assert push.claim == ClaimState("880001", ClaimStatus.approved_partial, 6000, "部分赔付 60.00 元", (), WAYBILL)
    assert (push.tracking, push.intercept) == (None, None)
    assert push.ack_body == '{"result":true,"returnCode":"200","message":"成功"}'.encode()
    assert push.message_key == hashlib.sha256(CALLBACK_PARAM.encode()).hexdigest()


def test_a_callback_with_a_bad_signature_or_a_bad_shape_is_refused() -> None:
    carrier = parser()
    with pytest.raises(SignatureInvalid):
        carrier.parse_push(signed_callback(CALLBACK_PARAM, salt="wrong"), "application/x-www-form-urlencoded")
    with pytest.raises(MalformedPush, match="needMaterials"):
        carrier.parse_push(signed_callback('{"workorderId":1,"status":2,"needMaterials":"照片"}'), "")
    with pytest.raises(MalformedPush, match="neither"):
        carrier.parse_push(signed_callback('{"id":1,"status":2}'), "")


def test_the_plugin_files_claims_for_the_couriers_its_work_orders_serve() -> None:
    assert {Capability.file_claim, Capability.claim_status} <= Kuaidi100.capabilities
    # Every lanjie spelling of YTO, Yunda, J&T, STO and Deppon (J&T's plugin also takes "jt").
    assert Kuaidi100.claim_couriers == frozenset({"yto", "yunda", "jtexpress", "jt", "sto", "debangwuliu"})
    plugins = load_carriers()
    assert {name for name, cls in plugins.items() if getattr(cls, "claims_via", None) == "kuaidi100"} == {
        "jtexpress", "sto", "yunda"}
    assert all(set(plugins[name].couriers or ()) & Kuaidi100.claim_couriers for name in ("jtexpress", "sto", "yunda"))
