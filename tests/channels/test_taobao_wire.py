"""Taobao's pure parts: the signed form, the envelope, money and time, codes, the attribute string, batch plans."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from lanjie.channels.base import ApproveItem, ChannelCase, MessageKind
from lanjie.channels.errors import ChannelRejected, RejectionKind
from lanjie.channels.taobao import approve, attribute, cases, codes, wire
from lanjie.domain.states import ArbitrationStatus, CaseType, ChannelInterceptStatus, PlatformStatus

from .test_taobao_support import APP_KEY, APP_SECRET, BEIJING_NOW, NOW, SESSION, form_of, recording, sign

# ---- the signed form ------------------------------------------------------------------------------


def test_the_form_lists_the_system_fields_then_the_business_ones_then_the_sign() -> None:
    form = wire.signed_form("taobao.rp.refund.intercept", {"refund_id": "20240611001", "refund_version": "17"},
                            app_key=APP_KEY, session=SESSION, secret=APP_SECRET, now=NOW)

    assert list(form.items()) == list(form_of("taobao.rp.refund.intercept", ("refund_id", "20240611001"),
                                              ("refund_version", "17")).items())
    assert list(form)[:7] == ["method", "app_key", "session", "timestamp", "format", "v", "sign_method"]
    assert form["timestamp"] == BEIJING_NOW


def test_empty_business_parameters_are_neither_sent_nor_signed() -> None:
    form = wire.signed_form("taobao.refund.refuse", {"refund_id": "1", "refuse_reason_id": ""},
                            app_key=APP_KEY, session=SESSION, secret=APP_SECRET, now=NOW)

    assert "refuse_reason_id" not in form
    assert form["sign"] == sign({name: value for name, value in form.items() if name != "sign"})


def test_the_sign_sorts_names_by_byte_order_and_covers_unicode_values_as_utf8() -> None:
    fields = {"refuse_message": "商品已发出 ok", "b": "2", "A": "1", "a_b": "3"}

    assert wire.top_sign(fields, APP_SECRET) == sign(fields)
    assert wire.top_sign({**fields, "sign": "ignored"}, APP_SECRET) == sign(fields)


@pytest.mark.parametrize(("method", "key"), [
    ("taobao.refund.get", "refund_get_response"),
    ("taobao.rp.refunds.agree", "rp_refunds_agree_response"),
    ("taobao.rp.refund.intercept", "rp_refund_intercept_response"),
    ("taobao.refund.refuse", "refund_refuse_response"),
    ("taobao.refund.detail.get", "refund_detail_get_response"),
])
def test_the_answer_wrapper_is_named_after_the_method(method: str, key: str) -> None:
    assert wire.response_key(method) == key


def test_unwrap_returns_the_content_of_the_methods_wrapper() -> None:
    assert wire.unwrap("taobao.rp.refund.intercept", {"rp_refund_intercept_response": {"request_id": "r"}}) == {
        "request_id": "r"}


def test_unwrap_of_an_answer_without_the_wrapper_is_a_payload_error() -> None:
    with pytest.raises(wire.PayloadError, match="rp_refund_intercept_response"):
        wire.unwrap("taobao.rp.refund.intercept", {"refund_get_response": {}})


#: (code, sub_code) → the kind lanjie acts on.
ERRORS = [
    (15, "isv.refund-version-expired", RejectionKind.stale),
    (15, "isv.refund-status-not-support", RejectionKind.refused),
    (15, "isv.need-verify-code", RejectionKind.needs_person),
    (15, "isp.top-remote-connection-timeout", RejectionKind.retry),
    (15, "isv.invalid-parameter:refund_id", RejectionKind.invalid),
    (15, "isv.missing-parameter:refund_version", RejectionKind.invalid),
    (15, "isv.some-new-business-rule", RejectionKind.refused),
    (25, "", RejectionKind.auth),
    (27, "", RejectionKind.auth),
    (11, "", RejectionKind.auth),
    (7, "accesscontrol.limited-by-app-access-count", RejectionKind.retry),
    (41, "", RejectionKind.invalid),
    (31, "", RejectionKind.invalid),
]


@pytest.mark.parametrize(("code", "sub_code", "kind"), ERRORS)
def test_each_error_response_becomes_the_rejection_it_means(code: int, sub_code: str, kind: RejectionKind) -> None:
    error = {"code": code, "msg": "Remote service error", "request_id": "r"}
    if sub_code:
        error |= {"sub_code": sub_code, "sub_msg": "说明"}

    with pytest.raises(ChannelRejected) as caught:
        wire.unwrap("taobao.refund.get", {"error_response": error})

    assert (caught.value.code, caught.value.message, caught.value.kind) == (
        sub_code or str(code), "说明" if sub_code else "Remote service error", kind)


def test_an_unknown_platform_code_is_a_logged_refusal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert codes.rejection_kind("99", "") is RejectionKind.refused

    assert [r.getMessage() for r in caplog.records] == [
        "taobao answered an unknown error code '99' sub_code '': treated as refused"]


# ---- money and time --------------------------------------------------------------------------------

@pytest.mark.parametrize(("yuan", "fen"), [("129.90", 12990), ("0.01", 1), ("6000", 600000), ("6000.00", 600000),
                                           ("0.1", 10), ("19.99", 1999), ("99999999.99", 9999999999)])
def test_yuan_strings_become_exact_fen(yuan: str, fen: int) -> None:
    assert wire.yuan_to_fen(yuan, "refund_fee") == fen


@pytest.mark.parametrize("yuan", ["", "abc", "1.234", "-1.00", "NaN", "Infinity"])
def test_a_yuan_string_that_is_not_whole_fen_is_a_payload_error(yuan: str) -> None:
    with pytest.raises(wire.PayloadError, match="refund_fee"):
        wire.yuan_to_fen(yuan, "refund_fee")


def test_fen_are_written_as_yuan_with_two_decimals() -> None:
    assert [wire.fen_to_yuan(fen) for fen in (0, 1, 10, 12990, 600000)] == ["0.00", "0.01", "0.10", "129.90",
                                                                           "6000.00"]


def test_beijing_times_become_utc() -> None:
    assert wire.beijing_to_utc("2024-06-13 07:20:00", "timeout") == datetime(2024, 6, 12, 23, 20, tzinfo=UTC)
    assert wire.beijing_time(datetime(2024, 6, 12, 23, 20, tzinfo=UTC)) == "2024-06-13 07:20:00"


def test_a_time_in_another_format_is_a_payload_error() -> None:
    with pytest.raises(wire.PayloadError, match="modified"):
        wire.beijing_to_utc("2024-06-13T07:20:00Z", "modified")


# ---- the attribute string -------------------------------------------------------------------------

INTERCEPT_ATTRIBUTE = (';clj_zero_second_refund:1;interceptItemListResult:[{"subBizOrderId"#3B"111",'
                       '"logisticInterceptEnum"#3B"INTERCEPT_SUCCESS","autoInterceptAgree"#3B1},'
                       '{"subBizOrderId"#3B"222","logisticInterceptEnum"#3B"INTERCEPT_FAILED","autoInterceptAgree"#3B0}]'
                       ';note:a:b;;broken;')


def test_the_attribute_string_splits_at_the_first_colon_and_unescapes_3b() -> None:
    assert attribute.parse(INTERCEPT_ATTRIBUTE) == {
        "clj_zero_second_refund": "1",
        "interceptItemListResult": '[{"subBizOrderId":"111","logisticInterceptEnum":"INTERCEPT_SUCCESS",'
                                   '"autoInterceptAgree":1},{"subBizOrderId":"222","logisticInterceptEnum":'
                                   '"INTERCEPT_FAILED","autoInterceptAgree":0}]',
        "note": "a:b",
    }


def test_intercept_items_are_decoded_from_the_escaped_json() -> None:
    assert attribute.intercept_items(INTERCEPT_ATTRIBUTE) == (
        attribute.InterceptItem("111", "INTERCEPT_SUCCESS", ChannelInterceptStatus.succeeded, True),
        attribute.InterceptItem("222", "INTERCEPT_FAILED", ChannelInterceptStatus.failed, False),
    )


def test_the_intercept_status_is_the_refunds_own_sub_order_else_the_first() -> None:
    items = attribute.intercept_items(INTERCEPT_ATTRIBUTE)

    assert attribute.intercept_status(items, "222") is ChannelInterceptStatus.failed
    assert attribute.intercept_status(items, "999") is ChannelInterceptStatus.succeeded
    assert attribute.intercept_status((), "222") is None


@pytest.mark.parametrize("value", ["", ";a:1;", ";interceptItemListResult:{bad", ";interceptItemListResult:{}"])
def test_an_attribute_without_a_readable_intercept_list_shows_no_intercept(value: str) -> None:
    assert attribute.intercept_items(value) == ()


@pytest.mark.parametrize(("code", "status"), [
    ("INTERCEPT_NOT_APPLY", ChannelInterceptStatus.not_applied), ("INTERCEPT_APPLY", ChannelInterceptStatus.applied),
    ("INTERCEPT_SUCCESS", ChannelInterceptStatus.succeeded), ("INTERCEPT_FAILED", ChannelInterceptStatus.failed),
    ("INTERCEPT_SELLER_CONFIRM_SIGN", ChannelInterceptStatus.seller_confirmed_sign), ("INTERCEPT_NEW", None),
])
def test_each_logistic_intercept_enum_maps(code: str, status: ChannelInterceptStatus | None) -> None:
    assert codes.intercept_status(code) is status


# ---- code tables -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "status"), [
    ("WAIT_SELLER_AGREE", PlatformStatus.awaiting_merchant),
    ("WAIT_BUYER_RETURN_GOODS", PlatformStatus.awaiting_return),
    ("WAIT_SELLER_CONFIRM_GOODS", PlatformStatus.awaiting_receipt), ("SELLER_REFUSE_BUYER", PlatformStatus.rejected),
    ("CLOSED", PlatformStatus.closed), ("SUCCESS", PlatformStatus.refunded), ("SOMETHING_NEW", PlatformStatus.other),
])
def test_each_refund_status_maps(code: str, status: PlatformStatus) -> None:
    assert codes.status(code) is status


@pytest.mark.parametrize(("dispute_type", "has_good_return", "order_status", "case_type"), [
    ("REFUND", False, "WAIT_BUYER_CONFIRM_GOODS", CaseType.refund_only_shipped),
    ("REFUND", False, "", CaseType.refund_only_shipped),  # no order_status shown: counted as shipped
    ("REFUND", False, "WAIT_SELLER_SEND_GOODS", CaseType.refund_only_unshipped),
    ("REFUND", True, "WAIT_BUYER_CONFIRM_GOODS", CaseType.refund_only_shipped),
    ("REFUND_AND_RETURN", True, "TRADE_FINISHED", CaseType.return_refund),
    ("TMALL_EXCHANGE", True, "", CaseType.exchange), ("TAOBAO_EXCHANGE", True, "", CaseType.exchange),
    ("RESHIPPING", False, "", CaseType.resend), ("REPAIR", True, "", CaseType.return_refund),
    ("", True, "", CaseType.return_refund),  # an older refund without dispute_type
    ("", False, "WAIT_SELLER_SEND_GOODS", CaseType.refund_only_unshipped),
    ("OTHERS", False, "", CaseType.refund_only_shipped),
])
def test_the_case_type_comes_from_dispute_type_and_shipping(dispute_type: str, has_good_return: bool,
                                                           order_status: str, case_type: CaseType) -> None:
    assert codes.case_type(dispute_type, has_good_return=has_good_return, order_status=order_status) is case_type


@pytest.mark.parametrize(("cs_status", "arbitration"), [
    ("", ArbitrationStatus.none), ("1", ArbitrationStatus.none), ("2", ArbitrationStatus.requested),
    ("3", ArbitrationStatus.in_review), ("4", ArbitrationStatus.in_review), ("5", ArbitrationStatus.in_review),
    ("6", ArbitrationStatus.in_review), ("7", ArbitrationStatus.cancelled), ("8", ArbitrationStatus.buyer_won),
    ("9", ArbitrationStatus.merchant_won), ("10", ArbitrationStatus.evidence_requested),
    ("11", ArbitrationStatus.in_review), ("12", ArbitrationStatus.none),
])
def test_each_cs_status_maps_to_an_arbitration_state(cs_status: str, arbitration: ArbitrationStatus) -> None:
    assert codes.arbitration(cs_status) is arbitration


@pytest.mark.parametrize(("topic", "kind"), [
    ("taobao_refund_RefundCreated", MessageKind.created),
    ("taobao_refund_RefundBuyerModifyAgreement", MessageKind.modified),
    ("taobao_refund_RefundSellerAgreeAgreement", MessageKind.refund_agreed),
    ("taobao_refund_RefundSuccess", MessageKind.refund_succeeded),
    ("taobao_refund_RefundSellerRefuseAgreement", MessageKind.refused),
    ("taobao_refund_RefundClosed", MessageKind.closed),
    ("taobao_refund_RefundBuyerReturnGoods", MessageKind.return_shipped),
    ("taobao_refund_TaobaoInterApplied", MessageKind.arbitration),
    ("taobao_refund_TaobaoIntervened", MessageKind.arbitration),
    ("taobao_refund_RefundCreateMessage", MessageKind.other),
    ("taobao_trade_TradeSellerShip", MessageKind.other),
])
def test_each_topic_maps_to_a_message_kind(topic: str, kind: MessageKind) -> None:
    assert codes.topic_kind(topic) is kind


# ---- reading a refund ------------------------------------------------------------------------------

@pytest.mark.parametrize("allowed", [
    {"string": ["SELLER_REFUSE", "APPLY_DELIVERY_INTERCEPT_V2"]},
    {"operation": [{"operation_code": "SELLER_REFUSE", "tips": "拒绝"},
                   {"operation_code": "APPLY_DELIVERY_INTERCEPT_V2", "tips": "拦截包裹"}]},
    ["SELLER_REFUSE", "APPLY_DELIVERY_INTERCEPT_V2"],
])
def test_allowed_operations_read_in_either_list_wrapping(allowed: object) -> None:
    assert cases.detail_of({"refund_version": 17, "allowed_operations": allowed}) == (
        "17", ("SELLER_REFUSE", "APPLY_DELIVERY_INTERCEPT_V2"))
    assert cases.detail_of({"detail": {"refund_version": 17, "allowed_operations": allowed}})[1] == (
        "SELLER_REFUSE", "APPLY_DELIVERY_INTERCEPT_V2")


def test_no_deadline_is_shown_when_exist_timeout_is_false() -> None:
    assert cases.deadline_of({"refund_remind_timeout": {"exist_timeout": False, "timeout": "2024-06-13 13:20:00"}}) \
        is None
    assert cases.deadline_of({"refund_remind_timeout": {"exist_timeout": "true", "timeout": "2024-06-13 13:20:00"}}) \
        == datetime(2024, 6, 13, 5, 20, tzinfo=UTC)
    assert cases.deadline_of({}) is None


def test_a_refund_without_a_version_is_a_payload_error() -> None:
    refund = recording("refund_get_wait_seller_agree.json")["refund_get_response"]["refund"]
    del refund["refund_version"]

    with pytest.raises(wire.PayloadError, match="refund_version"):
        cases.case_of(refund, ())


# ---- batch plans -------------------------------------------------------------------------------------

def item(ref: int, fen: int, version: str = "1718083200000", phase: str | None = "onsale") -> ApproveItem:
    raw = {} if phase is None else {"refund_phase": phase}
    case = ChannelCase(ref=str(ref), order_id="1", type=CaseType.refund_only_shipped, platform_type="REFUND",
                       status=PlatformStatus.awaiting_merchant, platform_status="WAIT_SELLER_AGREE",
                       refund_fen=fen, version=version, raw=raw)
    return ApproveItem(case=case, refund_no=f"rf_{ref}")


def test_the_plan_splits_by_count() -> None:
    items = [item(i, 100) for i in range(45)]

    calls, refused = approve.plan(items, approve.Limits(count=20, fen=600_000))

    assert (calls, refused) == ([list(range(20)), list(range(20, 40)), list(range(40, 45))], {})


def test_the_plan_splits_by_amount_and_the_limit_is_inclusive() -> None:
    items = [item(1, 300_000), item(2, 300_000), item(3, 1), item(4, 599_999), item(5, 1)]

    calls, _ = approve.plan(items, approve.Limits(count=20, fen=600_000))

    assert calls == [[0, 1], [2, 3], [4]]


def test_an_item_over_the_amount_limit_alone_is_for_a_person_and_left_out_of_every_call() -> None:
    items = [item(1, 100), item(2, 600_001), item(3, 100)]

    calls, refused = approve.plan(items, approve.Limits(count=20, fen=600_000))

    assert calls == [[0, 2]]
    assert list(refused) == [1]
    assert (refused[1].code, refused[1].kind) == ("amount-over-limit", RejectionKind.needs_person)


def test_an_item_whose_version_is_not_a_number_is_invalid_and_never_sent() -> None:
    calls, refused = approve.plan([item(1, 100, version="v2")], approve.Limits(count=20, fen=600_000))

    assert calls == []
    assert (refused[0].code, refused[0].kind) == ("invalid-parameter", RejectionKind.invalid)


def test_refund_infos_carry_the_amount_in_fen_the_version_and_the_phase() -> None:
    assert approve.refund_info(item(20240611001, 12990)) == "20240611001|12990|1718083200000|onsale"
    assert approve.refund_info(item(7, 1, phase="aftersale")) == "7|1|1718083200000|aftersale"
    assert approve.refund_info(item(7, 1, phase=None)) == "7|1|1718083200000|onsale"  # unknown phase: onsale


def test_some_op_succ_maps_each_result_by_refund_id() -> None:
    content = recording("rp_refunds_agree_some_op_succ.json")["rp_refunds_agree_response"]

    outcomes = approve.outcomes(content, ["20240611004", "20240611001", "20240611003", "20240611002", "20240611009"])

    assert outcomes[1] is None
    assert [(o.code, o.kind) for o in outcomes if o is not None] == [
        ("isv.refund-status-not-support", RejectionKind.refused),
        ("isv.need-verify-code", RejectionKind.needs_person),
        ("isv.refund-version-expired", RejectionKind.stale),
        ("SOME_OP_SUCC", RejectionKind.stale),  # not in the results: outcome unknown, read the case again
    ]


@pytest.mark.parametrize(("message", "kind"), [
    ("退款版本已过期", RejectionKind.stale), ("请输入短信验证码", RejectionKind.needs_person),
    ("退款已关闭", RejectionKind.refused), ("", RejectionKind.refused),
])
def test_a_failed_item_without_a_code_is_classified_by_its_words(message: str, kind: RejectionKind) -> None:
    [outcome] = approve.outcomes({"msg_code": "OP_FAILURE_UE", "results": {"refund_mapping_result": [
        {"refund_id": 5, "succ": False, "message": message}]}}, ["5"])

    assert outcome is not None
    assert (outcome.code, outcome.message, outcome.kind) == ("OP_FAILURE_UE", message or "OP_FAILURE_UE", kind)


def test_op_succ_without_results_agrees_every_refund_and_op_failure_ue_refuses_every_one() -> None:
    assert approve.outcomes({"msg_code": "OP_SUCC", "succ": True}, ["1", "2"]) == [None, None]
    refused = approve.outcomes({"msg_code": "OP_FAILURE_UE", "message": "退款已关闭"}, ["1", "2"])
    assert [(o.code, o.message, o.kind) for o in refused if o is not None] == [
        ("OP_FAILURE_UE", "退款已关闭", RejectionKind.refused)] * 2
