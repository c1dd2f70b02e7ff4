"""interceptOrder over real HTTP: signatures, parameter errors, eligibility, the race, callbacks."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from tests.sandbox.conftest import START_AT, Sandbox, md5_upper

HOUR = 3600


def test_accepted_intercept_answers_task_id_and_sets_flag_after_propagation(sandbox: Sandbox) -> None:
    sandbox.create("ZT1001", "in_transit")
    answer = sandbox.intercept("ZT1001")
    assert answer["code"] == 200
    assert answer["message"] == "success"
    assert answer["time"] == int(START_AT.timestamp() * 1000)
    assert re.fullmatch(r"K100T\d{12}", answer["data"]["taskId"])
    task = sandbox.parcel("ZT1001")["intercept"]
    assert task["task_id"] == answer["data"]["taskId"]
    assert task["state"] == "pending"
    assert task["type"] == "return_to_sender"
    assert task["accepted_at"] == "2025-03-01T02:00:00+00:00"
    assert task["effective_at"] == "2025-03-01T02:10:00+00:00"


def test_bad_signature_is_refused_with_403_and_no_task(sandbox: Sandbox) -> None:
    sandbox.create("ZT1002", "in_transit")
    param = sandbox.intercept_param("ZT1002")
    good = md5_upper(param + "1740794400000" + "SANDBOXKEY" + "SANDBOXSECRET")
    assert sandbox.intercept(param=param, sign="0" * 32)["code"] == 403
    assert sandbox.intercept(param=param, sign=good.lower())["code"] == 403  # upper-case hex only
    assert sandbox.intercept(param=param, secret="WRONG")["message"] == "签名错误"
    assert sandbox.intercept(param=param, key="NOSUCHKEY")["code"] == 403
    assert sandbox.parcel("ZT1002")["intercept"] is None


@pytest.mark.parametrize(("overrides", "field"), [
    ({"kuaidinum": None}, "kuaidinum"),
    ({"kuaidicom": None}, "kuaidicom"),
    ({"callbackUrl": None}, "callbackUrl"),
    ({"interceptType": None}, "interceptType"),
    ({"interceptType": "BURN_IT"}, "interceptType"),
    ({"interceptType": "MODIFY_ADDR"}, "recManInfo"),
    ({"interceptType": "MODIFY_ADDR", "recManInfo": {"name": "李四", "mobile": "13600000000"}},
     "recManInfo.printAddr"),
])
def test_bad_parameter_answers_400_naming_the_field(sandbox: Sandbox, overrides: dict[str, object],
                                                     field: str) -> None:
    sandbox.create("ZT1003", "in_transit")
    answer = sandbox.intercept("ZT1003", **overrides)
    assert answer["code"] == 400
    assert field in answer["message"]
    assert answer["data"] == {}
    assert sandbox.parcel("ZT1003")["intercept"] is None


def test_missing_form_field_answers_400_naming_it(sandbox: Sandbox) -> None:
    response = sandbox.http.post("/kuaidi100/label/order", data={"method": "interceptOrder", "key": "SANDBOXKEY",
                                                                 "t": "1", "param": "{}"})
    assert response.json()["code"] == 400
    assert "sign" in response.json()["message"]


@pytest.mark.parametrize("stage", ["picked_up", "in_transit", "at_destination"])
def test_intercept_inside_the_window_is_accepted(sandbox: Sandbox, stage: str) -> None:
    sandbox.create("ZT1017", stage)
    answer = sandbox.intercept("ZT1017")
    assert (answer["code"], answer["message"]) == (200, "success")
    task = sandbox.parcel("ZT1017")["intercept"]
    assert (task["task_id"], task["state"]) == (answer["data"]["taskId"], "pending")


@pytest.mark.parametrize(("stage", "code"), [
    ("created", 30003),
    ("out_for_delivery", 30002),
    ("delivered", 30001),
])
def test_intercept_outside_the_window_is_refused(sandbox: Sandbox, stage: str, code: int) -> None:
    sandbox.create("ZT1004", stage)
    answer = sandbox.intercept("ZT1004")
    assert answer["code"] == code
    assert answer["data"] == {}
    assert sandbox.parcel("ZT1004")["intercept"] is None


def test_unknown_waybill_or_other_carrier_is_not_supported(sandbox: Sandbox) -> None:
    sandbox.create("ZT1005", "in_transit")
    assert sandbox.intercept("NOPE0001")["code"] == 30005
    assert sandbox.intercept("ZT1005", kuaidicom="yuantong")["code"] == 30005
    assert sandbox.intercept("ZT1005", kuaidicom="zhongtong")["code"] == 200  # Kuaidi100's own code for ZTO
    sandbox.create("ZT1016", "in_transit")
    sandbox.http.post("/control/parcels/ZT1016/inject", json={"kind": "lost"})
    assert sandbox.intercept("ZT1016")["code"] == 30005


def test_lanjie_short_courier_code_is_not_kuaidi100s_and_is_refused(sandbox: Sandbox) -> None:
    sandbox.create("ZT1018", "in_transit")
    answer = sandbox.intercept("ZT1018", kuaidicom="zto")
    assert answer == {"code": 30005, "message": "不支持的快递公司编码：zto", "time": answer["time"], "data": {}}
    assert sandbox.parcel("ZT1018")["intercept"] is None
    assert sandbox.intercept("ZT1018", kuaidicom="zhongtong")["code"] == 200


def test_second_intercept_while_the_first_is_pending_answers_30004_with_the_first_task_id(sandbox: Sandbox) -> None:
    sandbox.create("ZT1006", "at_destination")
    first = sandbox.intercept("ZT1006")["data"]["taskId"]
    again = sandbox.intercept("ZT1006", interceptType="RETURN_SEND_STATION")
    assert (again["code"], again["data"]) == (30004, {"taskId": first})
    sandbox.advance(2 * HOUR)  # caught at the next scan: now returning
    assert sandbox.parcel("ZT1006")["status"] == "returning"
    late = sandbox.intercept("ZT1006")
    assert (late["code"], late["message"], late["data"]) == (30006, "该单号已拦截过，不可重复拦截", {})


def test_intercept_after_a_failed_intercept_is_refused_without_the_dead_task(sandbox: Sandbox) -> None:
    sandbox.create("ZT1019", "in_transit")
    first = sandbox.intercept("ZT1019")["data"]["taskId"]
    assert sandbox.http.post("/control/parcels/ZT1019/outcome", json={"outcome": "fail"}).status_code == 200
    again = sandbox.intercept("ZT1019")
    assert (again["code"], again["data"]) == (30006, {})
    task = sandbox.parcel("ZT1019")["intercept"]
    assert (task["task_id"], task["state"]) == (first, "failed")


def test_another_key_never_gets_the_task_id_of_a_pending_intercept(sandbox: Sandbox) -> None:
    response = sandbox.http.post("/control/accounts", json={"key": "OTHERKEY", "customer": "OTHER", "secret": "S2"})
    assert response.status_code == 201, response.text
    sandbox.create("ZT1020", "in_transit")
    first = sandbox.intercept("ZT1020")["data"]["taskId"]
    other = sandbox.intercept("ZT1020", key="OTHERKEY", secret="S2")
    assert (other["code"], other["data"]) == (30006, {})
    assert sandbox.intercept("ZT1020")["data"] == {"taskId": first}  # the owner still gets its own


def _callback(sandbox: Sandbox) -> tuple[dict[str, str], dict[str, object]]:
    calls = sandbox.received("intercept-result")
    assert len(calls) == 1
    return calls[0].form, calls[0].param


def test_flag_effective_before_delivery_turns_parcel_back_and_reports_success(sandbox: Sandbox) -> None:
    sandbox.create("ZT1007", "in_transit")
    task_id = sandbox.intercept("ZT1007")["data"]["taskId"]
    sandbox.advance(3 * HOUR - 1)
    assert sandbox.received("intercept-result") == []
    sandbox.advance(1)  # 05:00 UTC: the arrival scan at the origin hub catches the parcel
    form, param = _callback(sandbox)
    assert param == {"taskId": task_id, "kuaidicom": "zhongtong", "kuaidinum": "ZT1007", "status": "SUCCESS",
                     "code": "200", "message": "拦截成功", "time": "2025-03-01 13:00:00"}
    assert form["sign"] == md5_upper(form["param"] + "salt-1")
    parcel = sandbox.parcel("ZT1007")
    assert parcel["intercept"]["state"] == "succeeded"
    assert [h["code"] for h in parcel["history"][:2]] == ["intercepted", "departed"]
    assert parcel["history"][0]["location"] == parcel["route"][1]
    sandbox.advance(7 * HOUR)  # back through the origin outlet, signed for by the sender
    history = sandbox.parcel("ZT1007")["history"]
    assert [(h["code"], h["at"][11:16]) for h in history[:4]] == [
        ("return_signed", "12:00"), ("return_arrived", "09:00"), ("return_departed", "06:00"),
        ("intercepted", "05:00")]
    assert history[0]["status"] == "returned"


def test_delivery_before_the_flag_takes_effect_reports_missed(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(propagation_seconds=6 * HOUR)
    sandbox.create("ZT1008", "at_destination")
    task_id = sandbox.intercept("ZT1008")["data"]["taskId"]
    sandbox.advance(5 * HOUR)  # out for delivery at 04:00, delivered at 07:00, flag effective at 08:00
    form, param = _callback(sandbox)
    assert param == {"taskId": task_id, "kuaidicom": "zhongtong", "kuaidinum": "ZT1008", "status": "FAIL",
                     "code": "31001", "message": "拦截失败：快件已签收，拦截未能及时生效",
                     "time": "2025-03-01 15:00:00"}
    assert form["sign"] == md5_upper(form["param"] + "salt-1")
    parcel = sandbox.parcel("ZT1008")
    assert parcel["status"] == "delivered"
    assert parcel["intercept"]["outcome"] == "missed"


def test_parcel_at_destination_is_caught_at_its_dispatch_scan_once_the_flag_is_effective(sandbox: Sandbox) -> None:
    sandbox.create("ZT1009", "at_destination")
    sandbox.intercept("ZT1009", interceptType="RETURN_SEND_STATION")
    sandbox.advance(2 * HOUR)
    parcel = sandbox.parcel("ZT1009")
    assert parcel["history"][0]["code"] == "intercepted"
    assert parcel["history"][0]["location"] == parcel["route"][-1]
    sandbox.advance(30 * HOUR)
    last = sandbox.parcel("ZT1009")["history"][0]
    assert last["status"] == "returned"
    assert "退回寄件网点" in last["context"]


def test_parcel_out_for_delivery_when_the_flag_takes_effect_fails_31003_and_is_delivered(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(propagation_seconds=3 * HOUR)
    sandbox.create("ZT1021", "at_destination")
    task_id = sandbox.intercept("ZT1021")["data"]["taskId"]
    sandbox.advance(3 * HOUR)  # out for delivery at 04:00, flag effective at 05:00
    _, param = _callback(sandbox)
    assert param == {"taskId": task_id, "kuaidicom": "zhongtong", "kuaidinum": "ZT1021", "status": "FAIL",
                     "code": "31003", "message": "拦截失败：快件派件中，拦截未能生效", "time": "2025-03-01 13:00:00"}
    parcel = sandbox.parcel("ZT1021")
    assert (parcel["status"], parcel["intercept"]["state"], parcel["intercept"]["outcome"]) == (
        "out_for_delivery", "failed", "failed")
    sandbox.advance(2 * HOUR)  # the delivery goes on: signed at 07:00, no second callback
    parcel = sandbox.parcel("ZT1021")
    assert [h["code"] for h in parcel["history"][:2]] == ["delivered", "out_for_delivery"]
    assert len(sandbox.received("intercept-result")) == 1


def test_redirect_delivers_to_the_new_address(sandbox: Sandbox) -> None:
    sandbox.create("ZT1010", "in_transit", recipient={"name": "张三", "city": "上海"})
    info = {"name": "李四", "mobile": "13600000000", "printAddr": "北京市朝阳区某路 1 号"}
    assert sandbox.intercept("ZT1010", interceptType="MODIFY_ADDR", recManInfo=info)["code"] == 200
    sandbox.advance(40 * HOUR)
    parcel = sandbox.parcel("ZT1010")
    assert [h["code"] for h in parcel["history"][:4]] == [
        "delivered", "out_for_delivery", "arrived_outlet", "redirected"]
    assert parcel["history"][0]["context"].endswith("签收人：李四")
    assert parcel["history"][1]["location"] == "北京朝阳营业部"


def test_outcome_forced_before_the_request_decides_right_after_the_answer(sandbox: Sandbox) -> None:
    sandbox.create("ZT1011", "in_transit")
    response = sandbox.http.post("/control/parcels/ZT1011/outcome", json={"outcome": "fail", "message": "网点拒绝"})
    assert response.json()["forced_outcome"] == "fail"
    task_id = sandbox.intercept("ZT1011")["data"]["taskId"]
    sandbox.settle()
    _, param = _callback(sandbox)
    assert (param["taskId"], param["status"], param["code"], param["message"]) == (task_id, "FAIL", "31002", "网点拒绝")
    sandbox.advance(24 * HOUR)  # the parcel was not stopped
    assert sandbox.parcel("ZT1011")["status"] == "delivered"


def test_forced_success_turns_the_parcel_back_at_once(sandbox: Sandbox) -> None:
    sandbox.create("ZT1012", "in_transit")
    sandbox.intercept("ZT1012")
    parcel = sandbox.http.post("/control/parcels/ZT1012/outcome", json={"outcome": "succeed"}).json()
    assert parcel["status"] == "returning"
    assert parcel["history"][0]["at"] == "2025-03-01T02:00:00+00:00"
    sandbox.settle()
    assert _callback(sandbox)[1]["status"] == "SUCCESS"
    again = sandbox.http.post("/control/parcels/ZT1012/outcome", json={"outcome": "fail"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "already succeeded" in again.json()["detail"]


def test_forced_miss_delivers_the_parcel_and_reports_31001(sandbox: Sandbox) -> None:
    sandbox.create("ZT1013", "in_transit")
    sandbox.intercept("ZT1013")
    parcel = sandbox.http.post("/control/parcels/ZT1013/outcome", json={"outcome": "missed"}).json()
    assert parcel["status"] == "delivered"
    assert parcel["next_scan_at"] is None
    sandbox.settle()
    assert _callback(sandbox)[1]["code"] == "31001"


def test_callback_with_a_wrong_ack_is_retried_after_the_retry_interval(sandbox: Sandbox) -> None:
    sandbox.script("intercept-result", (200, json.dumps({"result": False}).encode(), 0.0))
    sandbox.create("ZT1014", "in_transit")
    sandbox.intercept("ZT1014")
    sandbox.http.post("/control/parcels/ZT1014/outcome", json={"outcome": "succeed"})
    sandbox.settle()
    sandbox.advance(30 * 60 - 1)  # result callbacks are retried after 30 minutes (tracking pushes: 35)
    assert len(sandbox.received("intercept-result")) == 1
    sandbox.advance(1)
    calls = sandbox.received("intercept-result")
    assert len(calls) == 2
    assert calls[0].raw == calls[1].raw  # the same message again
    pushes = [(p["attempt"], p["result"], p["at"][11:19]) for p in sandbox.parcel("ZT1014")["pushes"]
              if p["channel"] == "callback"]
    assert pushes == [(0, "failed", "02:00:00"), (1, "acked", "02:30:00")]


def test_callback_gives_up_after_three_retries(sandbox: Sandbox) -> None:
    wrong = (500, b"oops", 0.0)
    sandbox.script("intercept-result", wrong, wrong, wrong, wrong, wrong)
    sandbox.create("ZT1015", "in_transit")
    sandbox.intercept("ZT1015")
    sandbox.http.post("/control/parcels/ZT1015/outcome", json={"outcome": "fail"})
    sandbox.advance(5 * 30 * 60)
    assert len(sandbox.received("intercept-result")) == 4
    pushes = [(p["attempt"], p["at"][11:19]) for p in sandbox.parcel("ZT1015")["pushes"] if p["channel"] == "callback"]
    assert pushes == [(0, "02:00:00"), (1, "02:30:00"), (2, "03:00:00"), (3, "03:30:00")]
