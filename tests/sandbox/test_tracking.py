"""Tracking over real HTTP: poll subscriptions, pushes (full history, newest first), query.do."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.sandbox.conftest import Sandbox, md5_upper

HOUR = 3600

FIRST_THREE = [
    ("2025-03-01 10:00:00", "1002", "在途"),
    ("2025-03-01 09:00:00", "103", "揽收"),
    ("2025-03-01 07:00:00", "102", "揽收"),
]


def _items(result: dict[str, object]) -> list[tuple[str, str, str]]:
    data = result["data"]
    assert isinstance(data, list)
    return [(item["time"], item["statusCode"], item["status"]) for item in data]


def test_subscription_pushes_the_full_history_newest_first_signed_with_salt(sandbox: Sandbox) -> None:
    sandbox.create("ZT2001", "in_transit")
    assert sandbox.subscribe("ZT2001") == {"result": True, "returnCode": "200", "message": "提交成功"}
    sandbox.settle()
    [push] = sandbox.received("track")
    assert push.content_type == "application/x-www-form-urlencoded"
    assert push.form["sign"] == md5_upper(push.form["param"] + "push-salt")
    param = push.param
    result = param.pop("lastResult")
    assert param == {"status": "polling", "billstatus": "", "message": "", "autoCheck": "0", "comOld": "",
                     "comNew": ""}
    assert {k: v for k, v in result.items() if k != "data"} == {
        "message": "ok", "state": "0", "status": "200", "condition": "F00", "ischeck": "0", "com": "zhongtong",
        "nu": "ZT2001"}
    assert _items(result) == FIRST_THREE
    assert set(result["data"][0]) == {"context", "time", "ftime", "status", "areaCode", "areaName", "statusCode"}

    sandbox.advance(3 * HOUR)
    second = sandbox.received("track")[1].param["lastResult"]
    assert _items(second) == [("2025-03-01 13:00:00", "1002", "在途"), *FIRST_THREE]


def test_push_with_a_wrong_ack_is_retried_after_the_retry_interval(sandbox: Sandbox) -> None:
    sandbox.script("track", (200, json.dumps({"result": True, "returnCode": "500"}).encode(), 0.0))
    sandbox.create("ZT2002", "in_transit")
    sandbox.subscribe("ZT2002")
    sandbox.settle()
    assert len(sandbox.received("track")) == 1
    sandbox.advance(35 * 60 - 1)
    assert len(sandbox.received("track")) == 1
    sandbox.advance(1)
    first, retry = sandbox.received("track")
    assert first.raw == retry.raw
    log = [(p["attempt"], p["result"]) for p in sandbox.parcel("ZT2002")["pushes"]]
    assert log == [(0, "failed"), (1, "acked")]


def test_push_gives_up_after_three_retries(sandbox: Sandbox) -> None:
    wrong = (500, b"oops", 0.0)
    sandbox.script("track", wrong, wrong, wrong, wrong, wrong)
    sandbox.create("ZT2017", "in_transit")  # its next scan is 3 hours away: no newer snapshot meanwhile
    sandbox.subscribe("ZT2017")
    sandbox.settle()
    sandbox.advance(5 * 35 * 60)
    assert len(sandbox.received("track")) == 4
    log = [(p["attempt"], p["result"], p["at"][11:19]) for p in sandbox.parcel("ZT2017")["pushes"]]
    assert log == [(0, "failed", "02:00:00"), (1, "failed", "02:35:00"), (2, "failed", "03:10:00"),
                   (3, "failed", "03:45:00")]


def test_subscription_under_another_company_is_corrected_to_kuaidi100s_own_code(sandbox: Sandbox) -> None:
    sandbox.create("ZT2016", "in_transit")
    assert sandbox.subscribe("ZT2016", company="yuantong")["returnCode"] == "200"
    sandbox.settle()
    [push] = sandbox.received("track")
    param = push.param
    result = param.pop("lastResult")
    assert param == {"status": "abort", "billstatus": "", "message": "快递公司编码有误，已自动更正为 zhongtong",
                     "autoCheck": "1", "comOld": "yuantong", "comNew": "zhongtong"}
    assert (result["com"], len(result["data"])) == ("zhongtong", 3)
    # Resubscribing under the corrected code is allowed at once (sandbox choice).
    assert sandbox.subscribe("ZT2016", company="zhongtong")["returnCode"] == "200"


def test_retry_is_skipped_once_a_newer_snapshot_was_acknowledged(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(push_retry_seconds=5 * HOUR)
    sandbox.script("track", (503, b"busy", 0.0))
    sandbox.create("ZT2015", "in_transit")
    sandbox.subscribe("ZT2015")
    sandbox.advance(6 * HOUR)  # the 05:00 scan's push is acknowledged before the 07:00 retry
    log = [(p["attempt"], p["result"], p["summary"]) for p in sandbox.parcel("ZT2015")["pushes"]]
    assert log == [(0, "failed", "polling, 3 scans"), (0, "acked", "polling, 4 scans"),
                   (0, "acked", "polling, 5 scans"), (1, "superseded", "polling, 3 scans")]
    assert len(sandbox.received("track")) == 3


def test_push_without_an_answer_in_time_is_a_failure(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(push_timeout_seconds=0.2)
    sandbox.script("track", (200, b"{}", 1.0))
    sandbox.create("ZT2003", "in_transit")
    sandbox.subscribe("ZT2003")
    sandbox.settle()
    [attempt] = sandbox.parcel("ZT2003")["pushes"]
    assert (attempt["result"], attempt["http_status"]) == ("failed", None)
    assert attempt["detail"].startswith("ReadTimeout")


def test_delivery_ends_the_subscription_with_shutdown(sandbox: Sandbox) -> None:
    sandbox.create("ZT2004", "out_for_delivery")
    sandbox.subscribe("ZT2004")
    sandbox.advance(3 * HOUR)
    pushes = sandbox.received("track")
    assert [p.param["status"] for p in pushes] == ["polling", "shutdown"]
    last = pushes[-1].param["lastResult"]
    assert (last["state"], last["ischeck"], last["data"][0]["statusCode"]) == ("3", "1", "301")
    assert sandbox.subscribe("ZT2004")["returnCode"] == "501"  # within 30 min of the shutdown
    sandbox.advance(30 * 60)
    assert sandbox.subscribe("ZT2004")["returnCode"] == "200"


def test_a_waybill_subscribes_at_most_four_times_a_month(sandbox: Sandbox) -> None:
    sandbox.create("ZT2005", "delivered")
    for _ in range(4):
        assert sandbox.subscribe("ZT2005")["returnCode"] == "200"
        sandbox.advance(31 * 60)  # the shutdown push ends it; resubscription allowed 30 min later
    answer = sandbox.subscribe("ZT2005")
    assert (answer["result"], answer["returnCode"]) == (False, "700")
    assert "4" in answer["message"]


def test_unknown_waybill_is_accepted_and_pushed_once_it_has_scans(sandbox: Sandbox) -> None:
    assert sandbox.subscribe("ZT2006")["returnCode"] == "200"
    sandbox.settle()
    assert sandbox.received("track") == []
    sandbox.create("ZT2006", "picked_up")
    sandbox.settle()
    [push] = sandbox.received("track")
    assert _items(push.param["lastResult"]) == [("2025-03-01 10:00:00", "103", "揽收"),
                                                ("2025-03-01 08:00:00", "102", "揽收")]


def test_subscription_without_any_scan_aborts_after_three_days(sandbox: Sandbox) -> None:
    sandbox.subscribe("ZT2007")
    sandbox.advance(3 * 24 * HOUR)
    [push] = sandbox.received("track")
    assert (push.param["status"], push.param["message"], push.param["lastResult"]["data"]) == (
        "abort", "3天查询无记录", [])


def test_empty_salt_still_signs_the_param(sandbox: Sandbox) -> None:
    sandbox.create("ZT2008", "in_transit")
    sandbox.subscribe("ZT2008", salt="")
    sandbox.settle()
    [push] = sandbox.received("track")
    assert push.form["sign"] == md5_upper(push.form["param"])


def test_damage_and_loss_are_pushed_as_problem_states(sandbox: Sandbox) -> None:
    sandbox.create("ZT2009", "in_transit")
    sandbox.create("ZT2010", "in_transit")
    sandbox.subscribe("ZT2009")
    sandbox.subscribe("ZT2010")
    sandbox.intercept("ZT2010")
    assert sandbox.http.post("/control/parcels/ZT2009/inject", json={"kind": "damaged"}).json()["status"] == "damaged"
    assert sandbox.http.post("/control/parcels/ZT2010/inject", json={"kind": "lost"}).json()["status"] == "lost"
    sandbox.settle()
    newest = {p.param["lastResult"]["nu"]: p.param["lastResult"]["data"][0] for p in sandbox.received("track")}
    assert (newest["ZT2009"]["status"], newest["ZT2009"]["statusCode"]) == ("疑难", "209")
    assert (newest["ZT2010"]["status"], newest["ZT2010"]["statusCode"]) == ("疑难", "202")
    [callback] = sandbox.received("intercept-result")
    assert (callback.param["status"], callback.param["code"]) == ("FAIL", "31002")
    assert sandbox.parcel("ZT2009")["next_scan_at"] is None
    again = sandbox.http.post("/control/parcels/ZT2009/inject", json={"kind": "lost"})
    assert again.status_code == 409


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"key": "NOSUCHKEY"}, "600"),
    ({"key": "OLDKEY"}, "601"),
    ({"number": ""}, "700"),
    ({"callback": ""}, "700"),
    ({"callback": "ftp://example.invalid/x"}, "700"),
    ({"company": "nosuchcarrier"}, "702"),
    ({"company": "zto"}, "702"),  # lanjie's short code is not Kuaidi100's (zhongtong)
    ({"company": "shunfeng"}, "700"),  # SF needs the phone tail
])
def test_bad_subscription_answers_the_documented_code(sandbox: Sandbox, kwargs: dict[str, str], code: str) -> None:
    sandbox.http.post("/control/accounts", json={"key": "OLDKEY", "customer": "OLD", "secret": "S", "expired": True})
    number = kwargs.pop("number", "ZT2011")
    answer = sandbox.subscribe(number, **kwargs)
    assert (answer["result"], answer["returnCode"]) == (False, code)


def test_duplicate_subscription_while_polling_answers_501(sandbox: Sandbox) -> None:
    assert sandbox.subscribe("ZT2012")["returnCode"] == "200"
    assert sandbox.subscribe("ZT2012") == {"result": False, "returnCode": "501",
                                           "message": "重复订阅：该单号正在跟踪中"}


def test_query_answers_the_snapshot_in_the_order_asked(sandbox: Sandbox) -> None:
    sandbox.create("ZT2013", "in_transit")
    result = sandbox.query("ZT2013")
    assert {k: v for k, v in result.items() if k != "data"} == {
        "message": "ok", "state": "0", "status": "200", "condition": "F00", "ischeck": "0", "com": "zhongtong",
        "nu": "ZT2013"}
    assert _items(result) == FIRST_THREE
    assert _items(sandbox.query("ZT2013", order="asc")) == FIRST_THREE[::-1]
    first, second = sandbox.requests("ZT2013")
    assert first["seq"] < second["seq"]
    assert (first["channel"], first["method"], first["code"], first["account"]) == (
        "query", "query", "200", "SANDBOXCUSTOMER")


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"customer": "NOBODY"}, "601"),
    ({"sign": "0" * 32}, "503"),
    ({"com": "nosuchcarrier"}, "400"),
    ({"com": "zto"}, "400"),  # lanjie's short code is not Kuaidi100's (zhongtong)
    ({"number": ""}, "400"),
    ({"number": "UNKNOWN01"}, "500"),
    ({"com": "yuantong"}, "500"),  # a ZTO waybill is unknown to YTO
])
def test_bad_query_answers_the_documented_code(sandbox: Sandbox, kwargs: dict[str, str], code: str) -> None:
    sandbox.create("ZT2014", "in_transit")
    number = kwargs.pop("number", "ZT2014")
    answer = sandbox.query(number, **kwargs)
    assert (answer["result"], answer["returnCode"]) == (False, code)
