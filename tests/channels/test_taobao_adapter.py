"""Taobao adapter golden tests: each TOP call byte for byte, the call, success, each error, batch splitting.

Signatures are computed in test_taobao_support from wire.md's recipe with hashlib, never with the
adapter's own function; the clock is fixed, so every body is known exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from lanjie.channels.base import ApproveItem, ChannelAccount, ChannelCapability, ChannelCase
from lanjie.channels.errors import (
    CarrierTimeout,
    CarrierUnavailable,
    ChannelRejected,
    NotSupported,
    RejectionKind,
)
from lanjie.channels.taobao import PLATFORM_LIMITS, Taobao
from lanjie.domain.states import ArbitrationStatus, CaseType, ChannelInterceptStatus, PlatformStatus

from .test_taobao_support import (
    ACCOUNT,
    API,
    APP_SECRET,
    CREDENTIALS,
    FORM_MEDIA_TYPE,
    SESSION,
    TMALL,
    answer,
    body_of,
    error,
    recording,
    sent_fields,
    taobao,
)

REFUND_FIELDS = ("refund_id,tid,oid,status,order_status,dispute_type,good_status,has_good_return,refund_fee,payment,"
                 "total_fee,refund_version,refund_phase,cs_status,attribute,created,modified,refund_remind_timeout,"
                 "reason,desc,title,num,sid,company_name,operation_contraint")
REF, VERSION = "20240611001", "1718083200000"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def case(ref: str = REF, fen: int = 12990, *, version: str = VERSION, can_commit: bool = True,
         phase: str = "onsale") -> ChannelCase:
    return ChannelCase(ref=ref, order_id="3800012345678901", type=CaseType.refund_only_shipped, platform_type="REFUND",
                       status=PlatformStatus.awaiting_merchant, platform_status="WAIT_SELLER_AGREE", refund_fen=fen,
                       version=version, can_commit_intercept=can_commit, raw={"refund_phase": phase})


def item(ref: int, fen: int) -> ApproveItem:
    return ApproveItem(case(str(ref), fen), refund_no=f"rf_{ref}")


def agreed(*refs: int) -> httpx.Response:
    return answer({"rp_refunds_agree_response": {"msg_code": "OP_SUCC", "succ": True, "results": {
        "refund_mapping_result": [{"refund_id": ref, "succ": True, "message": "退款成功"} for ref in refs]}}})


# ---- the plugin ------------------------------------------------------------------------------------

def test_the_plugin_describes_itself() -> None:
    assert (Taobao.name, Taobao.title, Taobao.credential_names, Taobao.endpoint_names) == (
        "taobao", "Taobao / Tmall 淘宝/天猫", ("app_key", "app_secret", "session", "seller_nick", "platform"), ("api",))
    assert Taobao.capabilities == {ChannelCapability.parse_push, ChannelCapability.fetch_case,
                                   ChannelCapability.approve_refund, ChannelCapability.reject_refund,
                                   ChannelCapability.commit_intercept}
    assert (Taobao.approve_batch_limit, Taobao.approve_batch_fen_limit) == (20, 600_000)


@pytest.mark.anyio
@pytest.mark.parametrize(("account", "limits"), [(ACCOUNT, (20, 600_000)), (TMALL, (30, 1_000_000)),
                                                 (ChannelAccount("taobao", {**CREDENTIALS, "platform": " TMall "}, {}),
                                                  (30, 1_000_000)),
                                                 (ChannelAccount("taobao", {**CREDENTIALS, "platform": ""}, {}),
                                                  (20, 600_000))])
async def test_the_accounts_platform_picks_its_batch_limits(account: ChannelAccount, limits: tuple[int, int]) -> None:
    async with taobao(account=account) as (channel, _):
        assert (channel.batch_limit, channel.batch_fen_limit) == limits
    assert PLATFORM_LIMITS["tmall"].count == 30


@pytest.mark.anyio
async def test_an_unknown_platform_is_refused_at_construction() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ChannelRejected) as caught:
            Taobao(ChannelAccount("taobao", {**CREDENTIALS, "platform": "tianmao"}, {}), client)

    assert (caught.value.code, caught.value.kind) == ("config", RejectionKind.invalid)


@pytest.mark.anyio
async def test_the_production_gateway_is_the_default_endpoint() -> None:
    account = ChannelAccount("taobao", CREDENTIALS, {})
    async with taobao(answer({"rp_refund_intercept_response": {"request_id": "r"}}), account=account) as (tb, seen):
        await tb.commit_intercept(case())

    assert str(seen[0].url) == "https://eco.taobao.com/router/rest"


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["confirm_received", "submit_evidence"])
async def test_operations_taobao_lacks_are_not_supported(operation: str) -> None:
    async with taobao() as (channel, seen):
        with pytest.raises(NotSupported, match="taobao"):
            if operation == "confirm_received":
                await channel.confirm_received(case(), received_at=datetime(2024, 6, 12, tzinfo=UTC))
            else:
                await channel.submit_evidence(case(), text="发货凭证")

    assert seen == []


@pytest.mark.anyio
async def test_missing_credentials_are_refused_before_any_call() -> None:
    account = ChannelAccount("taobao", {**CREDENTIALS, "session": ""}, {"api": API})
    async with taobao(account=account) as (channel, seen):
        with pytest.raises(ChannelRejected) as caught:
            await channel.fetch_case(REF)

    assert (caught.value.code, caught.value.kind, seen) == ("config", RejectionKind.auth, [])


# ---- fetch_case -------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_fetch_case_reads_the_refund_then_its_allowed_operations_byte_for_byte() -> None:
    async with taobao(answer(recording("refund_get_wait_seller_agree.json")),
                      answer(recording("refund_detail_get_intercept_allowed.json"))) as (channel, seen):
        await channel.fetch_case(REF)

    get, detail = seen
    assert (get.method, str(get.url), get.headers["Content-Type"]) == ("POST", f"{API}/router/rest", FORM_MEDIA_TYPE)
    assert get.content == body_of("taobao.refund.get", ("fields", REFUND_FIELDS), ("refund_id", REF))
    assert detail.content == body_of("taobao.refund.detail.get", ("refund_id", REF),
                                     ("fields", "allowedOperations,refund_version"))


@pytest.mark.anyio
async def test_fetch_case_maps_a_shipped_refund_only_request_waiting_for_the_seller() -> None:
    async with taobao(answer(recording("refund_get_wait_seller_agree.json")),
                      answer(recording("refund_detail_get_intercept_allowed.json"))) as (channel, _):
        found = await channel.fetch_case(REF)

    assert found == ChannelCase(
        ref=REF, order_id="3800012345678901", type=CaseType.refund_only_shipped, platform_type="REFUND",
        status=PlatformStatus.awaiting_merchant, platform_status="WAIT_SELLER_AGREE", refund_fen=12990,
        version=VERSION, paid_fen=12990, deadline_at=datetime(2024, 6, 13, 5, 20, tzinfo=UTC),
        arbitration=ArbitrationStatus.none, parcels=(), reason="不想要了", intercept_status=None,
        can_commit_intercept=True, refunded=False, updated_at=datetime(2024, 6, 11, 5, 20, tzinfo=UTC))
    assert (found.raw["refund_phase"], found.raw["allowed_operations"]) == (
        "onsale", ["APPLY_DELIVERY_INTERCEPT_V2", "NEGOTIATE_TO_RETURN_AND_REFUND", "SELLER_REFUSE"])


@pytest.mark.anyio
async def test_fetch_case_reads_the_intercept_window_from_the_attribute_and_the_moved_deadline() -> None:
    detail = {"refund_detail_get_response": {"refund_version": 1718090400000,
                                             "allowed_operations": {"string": ["SELLER_REFUSE"]}}}
    async with taobao(answer(recording("refund_get_intercept_applied.json")), answer(detail)) as (channel, _):
        found = await channel.fetch_case(REF)

    assert (found.intercept_status, found.can_commit_intercept, found.version, found.deadline_at) == (
        ChannelInterceptStatus.applied, False, "1718090400000", datetime(2024, 6, 16, 7, 20, tzinfo=UTC))
    assert found.raw["intercept_items"] == [
        {"sub_order_id": "3800012345678902", "code": "INTERCEPT_APPLY", "auto_intercept_agree": False}]


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "cs_status", "platform", "arbitration", "refunded"), [
    ("SUCCESS", 1, PlatformStatus.refunded, ArbitrationStatus.none, True),
    ("SELLER_REFUSE_BUYER", 2, PlatformStatus.rejected, ArbitrationStatus.requested, False),
    ("CLOSED", 7, PlatformStatus.closed, ArbitrationStatus.cancelled, False),
    ("WAIT_SELLER_CONFIRM_GOODS", 10, PlatformStatus.awaiting_receipt, ArbitrationStatus.evidence_requested, False),
])
async def test_fetch_case_maps_status_and_intervention(status: str, cs_status: int, platform: PlatformStatus,
                                                       arbitration: ArbitrationStatus, refunded: bool) -> None:
    body = recording("refund_get_wait_seller_agree.json")
    body["refund_get_response"]["refund"] |= {"status": status, "cs_status": cs_status,
                                              "refund_remind_timeout": {"exist_timeout": False}}
    async with taobao(answer(body), answer(recording("refund_detail_get_intercept_allowed.json"))) as (channel, _):
        found = await channel.fetch_case(REF)

    assert (found.status, found.platform_status, found.arbitration, found.refunded, found.deadline_at) == (
        platform, status, arbitration, refunded, None)


@pytest.mark.anyio
async def test_fetch_case_reads_again_when_the_refund_moved_between_its_two_reads() -> None:
    stale_detail = {"refund_detail_get_response": {"refund_version": 1, "allowed_operations": {
        "string": ["APPLY_DELIVERY_INTERCEPT_V2"]}}}
    async with taobao(answer(recording("refund_get_wait_seller_agree.json")), answer(stale_detail),
                      answer(recording("refund_get_wait_seller_agree.json")),
                      answer(recording("refund_detail_get_intercept_allowed.json"))) as (channel, seen):
        found = await channel.fetch_case(REF)

    assert (len(seen), found.can_commit_intercept) == (4, True)


@pytest.mark.anyio
async def test_fetch_case_allows_no_commitment_when_the_refund_keeps_moving() -> None:
    stale_detail = answer({"refund_detail_get_response": {"refund_version": 1, "allowed_operations": {
        "string": ["APPLY_DELIVERY_INTERCEPT_V2"]}}})
    refund = recording("refund_get_wait_seller_agree.json")
    async with taobao(answer(refund), stale_detail, answer(refund), stale_detail) as (channel, seen):
        found = await channel.fetch_case(REF)

    assert (len(seen), found.can_commit_intercept, found.version) == (4, False, VERSION)


@pytest.mark.anyio
async def test_fetch_case_of_a_non_numeric_id_is_invalid_before_any_call() -> None:
    async with taobao() as (channel, seen):
        with pytest.raises(ChannelRejected) as caught:
            await channel.fetch_case("RF-1")

    assert (caught.value.kind, seen) == (RejectionKind.invalid, [])


@pytest.mark.anyio
async def test_fetch_case_of_a_malformed_refund_is_unavailable() -> None:
    body = recording("refund_get_wait_seller_agree.json")
    body["refund_get_response"]["refund"]["refund_fee"] = "12.345"
    async with taobao(answer(body), answer(recording("refund_detail_get_intercept_allowed.json"))) as (channel, _):
        with pytest.raises(CarrierUnavailable, match="refund_fee"):
            await channel.fetch_case(REF)


@pytest.mark.anyio
async def test_fetch_case_error_is_the_rejection_it_means() -> None:
    async with taobao(error(27, "Invalid session")) as (channel, _):
        with pytest.raises(ChannelRejected) as caught:
            await channel.fetch_case(REF)

    assert (caught.value.code, caught.value.message, caught.value.kind) == ("27", "Invalid session",
                                                                             RejectionKind.auth)


# ---- commit_intercept --------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_commit_intercept_sends_the_refund_and_the_version_read() -> None:
    async with taobao(answer({"rp_refund_intercept_response": {"request_id": "r1"}})) as (channel, seen):
        result = await channel.commit_intercept(case())

    [request] = seen
    assert result is None
    assert request.content == body_of("taobao.rp.refund.intercept", ("refund_id", REF), ("refund_version", VERSION))


@pytest.mark.anyio
async def test_commit_intercept_is_refused_before_any_call_when_the_platform_does_not_allow_it() -> None:
    async with taobao() as (channel, seen):
        with pytest.raises(ChannelRejected) as caught:
            await channel.commit_intercept(case(can_commit=False))

    assert (caught.value.code, caught.value.kind, seen, channel.exchanges) == (
        "not-allowed", RejectionKind.refused, [], [])


@pytest.mark.anyio
async def test_commit_intercept_on_a_stale_version_is_stale() -> None:
    async with taobao(answer(recording("error_response_stale.json"))) as (channel, _):
        with pytest.raises(ChannelRejected) as caught:
            await channel.commit_intercept(case())

    assert (caught.value.code, caught.value.message, caught.value.kind) == (
        "isv.refund-version-expired", "退款版本已过期，请刷新后重试", RejectionKind.stale)


@pytest.mark.anyio
async def test_a_write_whose_answer_cannot_be_read_may_have_been_applied() -> None:
    async with taobao(httpx.Response(200, content=b"<html>gateway</html>")) as (channel, _):
        with pytest.raises(CarrierTimeout, match="read the case again"):
            await channel.commit_intercept(case())


@pytest.mark.anyio
async def test_a_5xx_is_unavailable_and_kept_in_the_exchanges() -> None:
    async with taobao(httpx.Response(502, content=b"bad gateway")) as (channel, _):
        with pytest.raises(CarrierUnavailable) as caught:
            await channel.commit_intercept(case())

    assert type(caught.value) is CarrierUnavailable
    assert [(e.operation, e.status_code) for e in channel.exchanges] == [("taobao.rp.refund.intercept", 502)]


# ---- approve_refunds ---------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_approve_sends_refund_infos_in_fen_with_version_and_phase() -> None:
    async with taobao(agreed(20240611001, 20240611002)) as (channel, seen):
        results = await channel.approve_refunds([item(20240611001, 12990), item(20240611002, 1)])

    assert results == [None, None]
    [request] = seen
    assert request.content == body_of("taobao.rp.refunds.agree", (
        "refund_infos", f"20240611001|12990|{VERSION}|onsale,20240611002|1|{VERSION}|onsale"))


@pytest.mark.anyio
async def test_approve_splits_by_the_taobao_count_limit() -> None:
    items = [item(1000 + i, 100) for i in range(21)]
    async with taobao(agreed(*range(1000, 1020)), agreed(1020)) as (channel, seen):
        results = await channel.approve_refunds(items)

    assert results == [None] * 21
    assert [sent_fields(r)["refund_infos"].count(",") + 1 for r in seen] == [20, 1]
    assert sent_fields(seen[1])["refund_infos"] == f"1020|100|{VERSION}|onsale"


@pytest.mark.anyio
async def test_a_tmall_account_puts_thirty_refunds_and_ten_thousand_yuan_in_one_call() -> None:
    items = [item(1000 + i, 33_000) for i in range(31)]  # 30 × 330 yuan = 9,900 yuan
    async with taobao(agreed(*range(1000, 1030)), agreed(1030), account=TMALL) as (channel, seen):
        results = await channel.approve_refunds(items)

    assert results == [None] * 31
    assert [sent_fields(r)["refund_infos"].count(",") + 1 for r in seen] == [30, 1]


@pytest.mark.anyio
async def test_approve_splits_by_the_amount_limit() -> None:
    items = [item(1, 400_000), item(2, 200_000), item(3, 100)]  # 4,000 + 2,000 yuan fit; the 1 yuan does not
    async with taobao(agreed(1, 2), agreed(3)) as (channel, seen):
        results = await channel.approve_refunds(items)

    assert results == [None, None, None]
    assert [sent_fields(r)["refund_infos"] for r in seen] == [
        f"1|400000|{VERSION}|onsale,2|200000|{VERSION}|onsale", f"3|100|{VERSION}|onsale"]


@pytest.mark.anyio
async def test_an_item_above_the_amount_limit_goes_to_a_person_and_is_never_sent() -> None:
    async with taobao(agreed(2)) as (channel, seen):
        results = await channel.approve_refunds([item(1, 600_001), item(2, 100)])

    refused, sent = results
    assert isinstance(refused, ChannelRejected) and refused.kind is RejectionKind.needs_person
    assert sent is None
    assert [sent_fields(r)["refund_infos"] for r in seen] == [f"2|100|{VERSION}|onsale"]


@pytest.mark.anyio
async def test_some_op_succ_gives_each_item_its_own_outcome() -> None:
    refs = [20240611001, 20240611002, 20240611003, 20240611004]
    async with taobao(answer(recording("rp_refunds_agree_some_op_succ.json"))) as (channel, _):
        results = await channel.approve_refunds([item(ref, 100) for ref in refs])

    assert results[0] is None
    assert [(r.code, r.kind) for r in results[1:] if isinstance(r, ChannelRejected)] == [
        ("isv.refund-version-expired", RejectionKind.stale),
        ("isv.need-verify-code", RejectionKind.needs_person),
        ("isv.refund-status-not-support", RejectionKind.refused)]


@pytest.mark.anyio
async def test_an_error_for_the_whole_call_is_every_item_of_that_call_only() -> None:
    items = [item(1000 + i, 100) for i in range(21)]
    async with taobao(error(15, "Remote service error", "isv.need-verify-code", "需要短信验证码"),
                      agreed(1020)) as (channel, _):
        results = await channel.approve_refunds(items)

    assert results[20] is None
    assert {(r.code, r.kind) for r in results[:20] if isinstance(r, ChannelRejected)} == {
        ("isv.need-verify-code", RejectionKind.needs_person)}
    assert all(isinstance(r, ChannelRejected) for r in results[:20])


@pytest.mark.anyio
async def test_a_lost_answer_is_a_timeout_for_every_item_of_that_call() -> None:
    async with taobao(httpx.ReadTimeout("slow"), agreed(3)) as (channel, _):
        results = await channel.approve_refunds([item(1, 100), item(2, 100), item(3, 600_000)])

    first, second, third = results
    assert isinstance(first, CarrierTimeout) and first is second
    assert third is None


@pytest.mark.anyio
async def test_approving_nothing_calls_nothing() -> None:
    async with taobao() as (channel, seen):
        assert await channel.approve_refunds([]) == []
    assert seen == []


# ---- reject_refund ------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_reject_sends_reason_id_message_version_and_phase() -> None:
    async with taobao(answer({"refund_refuse_response": {"is_success": True}})) as (channel, seen):
        result = await channel.reject_refund(case(phase="aftersale"), reason_code="4001", reason="已发货，包裹在途",
                                             evidence=["https://img.example/proof.jpg"])

    [request] = seen
    assert result is None
    assert request.content == body_of("taobao.refund.refuse", ("refund_id", REF), ("refund_version", VERSION),
                                      ("refund_phase", "aftersale"), ("refuse_message", "已发货，包裹在途"),
                                      ("refuse_reason_id", "4001"))
    assert "proof.jpg" not in request.content.decode()  # refuse_proof is a file upload: URLs are not sent


@pytest.mark.anyio
async def test_reject_without_a_reason_code_sends_no_reason_id() -> None:
    async with taobao(answer({"refund_refuse_response": {}})) as (channel, seen):
        await channel.reject_refund(case(), reason_code="", reason="已发货")

    assert "refuse_reason_id" not in sent_fields(seen[0])


@pytest.mark.anyio
@pytest.mark.parametrize(("reason_code", "reason"), [("4001", "x"), ("4001", "长" * 201), ("code", "已发货")])
async def test_reject_with_bad_input_is_invalid_before_any_call(reason_code: str, reason: str) -> None:
    async with taobao() as (channel, seen):
        with pytest.raises(ChannelRejected) as caught:
            await channel.reject_refund(case(), reason_code=reason_code, reason=reason)

    assert (caught.value.kind, seen) == (RejectionKind.invalid, [])


@pytest.mark.anyio
async def test_reject_of_a_refund_in_the_wrong_state_is_refused() -> None:
    async with taobao(error(15, "Remote service error", "isv.refund-status-not-support", "状态不支持")) as (tb, _):
        with pytest.raises(ChannelRejected) as caught:
            await tb.reject_refund(case(), reason_code="4001", reason="已发货")

    assert (caught.value.code, caught.value.kind) == ("isv.refund-status-not-support", RejectionKind.refused)


# ---- what is kept ---------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_no_secret_appears_in_the_exchanges() -> None:
    async with taobao(answer(recording("refund_get_wait_seller_agree.json")),
                      answer(recording("refund_detail_get_intercept_allowed.json")),
                      agreed(20240611001), error(25, "Invalid signature")) as (channel, seen):
        await channel.fetch_case(REF)
        await channel.approve_refunds([item(20240611001, 12990)])
        with pytest.raises(ChannelRejected):
            await channel.commit_intercept(case())

    signs = [sent_fields(request)["sign"] for request in seen]
    kept = " ".join(e.request_body + e.response_body + e.error for e in channel.exchanges)
    assert [e.operation for e in channel.exchanges] == ["taobao.refund.get", "taobao.refund.detail.get",
                                                        "taobao.rp.refunds.agree", "taobao.rp.refund.intercept"]
    assert APP_SECRET not in kept and SESSION not in kept
    assert not any(sign in kept for sign in signs)
    assert "20240611001|12990" in kept  # the business content stays readable
