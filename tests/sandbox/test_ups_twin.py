"""The UPS twin on its own, spoken to as UPS documents it (no lanjie adapter involved).

OAuth tokens, the checks every call goes through, the body schema, eligibility over a parcel's life,
charges shown only once an intercept completed, at most 20 packages per request, cancel before
completion, the Track API, faults, and the absence of pushes (UPS sends none).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox import SandboxConfig, SandboxWorld, create_sandbox_app
from lanjie.sandbox.faults import FaultPlan, FaultSettings
from lanjie.sandbox.model import Channel, TaskState
from lanjie.sandbox.ups import UPSTwin

START_AT = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)  # 10:00 in Beijing
HOUR = 3600.0
CLIENT_ID, SECRET, SHIPPER = "SANDBOXUPSCLIENT", "SANDBOXUPSSECRET", "S4NDB0"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
DI = "/ups/api/deliveryintercept/v2"
TN, TN2 = "1Z999AA10000000001", "1Z999AA10000000002"
CONTACT = {"name": "蓝界 客服", "telephone": "+8613800138000"}
RETURN = {"requestType": "RS", "specialInstructions": None, "requesterContactInfo": CONTACT, "reasonForReturn": "AM"}
NEW_ADDRESS = {"addressNickName": "new home", "addressInfo": {
    "addressLine1": "12911 FORK RD", "city": "BALDWIN", "state": "MD", "postalCode": "21013", "countryCode": "US"},
    "nameOrCompanyName": "张三", "contactName": "张三", "phoneNumber": "+14105550100"}


@dataclass
class UPS:
    """Raw HTTP against the twin: a token, then calls with UPS's headers."""

    http: httpx.AsyncClient
    world: SandboxWorld
    token: str = ""

    @property
    def twin(self) -> UPSTwin:
        twin = self.world.twins["ups"]
        assert isinstance(twin, UPSTwin)
        return twin

    async def fetch_token(self, authorization: str = BASIC, form: str = "grant_type=client_credentials",
                          merchant: str = SHIPPER,
                          content_type: str = "application/x-www-form-urlencoded") -> httpx.Response:
        headers = {"Authorization": authorization, "Content-Type": content_type}
        if merchant:
            headers["x-merchant-id"] = merchant
        return await self.http.post("/ups/security/v1/oauth/token", content=form.encode(), headers=headers)

    def headers(self, **overrides: str | None) -> dict[str, str]:
        headers: dict[str, str | None] = {"Authorization": f"Bearer {self.token}", "transId": "tx0001",
                                          "transactionSrc": "lanjie", "inquiryType": "U",
                                          "Content-Type": "application/json", **overrides}
        return {name: value for name, value in headers.items() if value is not None}

    async def call(self, method: str, path: str, body: Any = None, **headers: str | None) -> httpx.Response:
        if not self.token:
            self.token = (await self.fetch_token()).json()["access_token"]
        content = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.http.request(method, path, content=content, headers=self.headers(**headers))

    async def intercept(self, kind: str = "return", tracking_no: str = TN, body: Any = None) -> httpx.Response:
        return await self.call("POST", f"{DI}/{kind}/{tracking_no}", RETURN if body is None else body)

    async def eligibility(self, tracking_no: str = TN) -> dict[str, Any]:
        response = await self.call("GET", f"{DI}/eligibility/intercept/{tracking_no}")
        assert response.status_code == 200, response.text
        entries = response.json()["response"]["commonEligibilityMap"]
        return {e["interceptFeature"]: e["eligibilityValue"] for e in entries}

    async def charges(self, option: str = "RS", tracking_no: str = TN) -> httpx.Response:
        body = {"ratingRequest": [{"trackInfo": {"interceptOption": option}}]}
        return await self.call("POST", f"{DI}/charges/{tracking_no}", body)

    def parcel(self, waybill_no: str = TN, stage: TrackingStatus = TrackingStatus.in_transit,
               carrier: str = "ups") -> None:
        self.world.create_parcel(carrier_code=carrier, waybill_no=waybill_no, stage=stage)


@asynccontextmanager
async def sandbox() -> AsyncIterator[UPS]:
    world = SandboxWorld(SandboxConfig(time_factor=0.0, ack_latency_ms=0, start_at=START_AT, seed=7))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_sandbox_app(world)),
                                     base_url="http://sandbox.test") as http:
            yield UPS(http, world)
    finally:
        await world.stop()


def errors(response: httpx.Response) -> tuple[int, str, str]:
    first = response.json()["response"]["errors"][0]
    return response.status_code, first["code"], first["message"]


# ---- OAuth ----------------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_token_is_issued_for_client_credentials_over_basic_auth() -> None:
    async with sandbox() as ups:
        response = await ups.fetch_token()
        body = response.json()
        token = ups.twin.oauth.tokens[body["access_token"]]

    assert response.status_code == 200
    assert {k: v for k, v in body.items() if k != "access_token"} == {
        "token_type": "Bearer", "issued_at": "1740794400000", "client_id": CLIENT_ID, "scope": "",
        "expires_in": "14399", "refresh_count": "0", "status": "approved"}
    assert len(body["access_token"]) == 40
    assert (token.client_id, (token.expires_at - START_AT).total_seconds()) == (CLIENT_ID, 14399)


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"authorization": "Basic " + base64.b64encode(b"SANDBOXUPSCLIENT:WRONG").decode()}, 401, "10401"),
    ({"authorization": "Basic " + base64.b64encode(b"NOBODY:SANDBOXUPSSECRET").decode()}, 401, "10401"),
    ({"authorization": "Basic !!!"}, 401, "10401"),
    ({"authorization": "Bearer abc"}, 401, "10401"),
    ({"merchant": "OTHER1"}, 401, "10401"),
    ({"form": "grant_type=password"}, 400, "10400"),
    ({"form": ""}, 400, "10400"),
    ({"content_type": "application/json", "form": '{"grant_type":"client_credentials"}'}, 400, "10400"),
])
@pytest.mark.anyio
async def test_a_bad_token_request_is_refused(kwargs: dict[str, str], status: int, code: str) -> None:
    async with sandbox() as ups:
        response = await ups.fetch_token(**kwargs)
        tokens = ups.twin.oauth.tokens

    assert errors(response)[:2] == (status, code)
    assert tokens == {}


@pytest.mark.anyio
async def test_an_account_registered_through_the_control_api_gets_tokens_and_an_expired_one_does_not() -> None:
    async with sandbox() as ups:
        added = await ups.http.post("/control/carriers/ups/accounts",
                                    json={"credentials": {"client_id": "SHOP2", "client_secret": "S2"}})
        ok = await ups.fetch_token("Basic " + base64.b64encode(b"SHOP2:S2").decode(), merchant="")
        ups.twin.register_account({"client_id": "SHOP2", "client_secret": "S2"}, expired=True)
        refused = await ups.fetch_token("Basic " + base64.b64encode(b"SHOP2:S2").decode(), merchant="")

    assert (added.status_code, added.json()) == (201, {"client_id": "SHOP2", "account_number": "", "expired": False})
    assert ok.status_code == 200
    assert errors(refused) == (401, "10401", "Client credentials have expired")


@pytest.mark.parametrize("authorization", ["", "Bearer nope", "Basic " + BASIC.split()[1]])
@pytest.mark.anyio
async def test_a_call_without_a_valid_bearer_token_is_401(authorization: str) -> None:
    async with sandbox() as ups:
        ups.parcel()
        await ups.fetch_token()
        response = await ups.call("POST", f"{DI}/return/{TN}", RETURN, Authorization=authorization)

    assert errors(response) == (401, "250002", "Invalid Authentication Information.")
    assert response.json()["response"]["transactionId"] == "tx0001"


@pytest.mark.anyio
async def test_tokens_expire_on_the_sandbox_clock_and_can_be_revoked() -> None:
    async with sandbox() as ups:
        await ups.call("GET", f"{DI}/eligibility/intercept/{TN}")
        await ups.world.advance(14398)
        fresh = await ups.call("GET", f"{DI}/eligibility/intercept/{TN}")
        await ups.world.advance(1)
        expired = await ups.call("GET", f"{DI}/eligibility/intercept/{TN}")
        ups.token = (await ups.fetch_token()).json()["access_token"]
        revoked = ups.twin.revoke_tokens()
        gone = await ups.call("GET", f"{DI}/eligibility/intercept/{TN}")

    assert fresh.status_code == 200
    assert errors(expired)[:2] == errors(gone)[:2] == (401, "250002")
    assert revoked == 2


# ---- the checks every call goes through ----------------------------------------------------------------

@pytest.mark.parametrize(("headers", "message"), [
    ({"transId": None}, "transId: required, 3-14 of [A-Za-z0-9.-]"),
    ({"transId": "tx"}, "transId: required, 3-14 of [A-Za-z0-9.-]"),
    ({"transId": "a" * 15}, "transId: required, 3-14 of [A-Za-z0-9.-]"),
    ({"transId": "tx 0001"}, "transId: required, 3-14 of [A-Za-z0-9.-]"),
    ({"transactionSrc": None}, "transactionSrc: required"),
    ({"inquiryType": None}, "inquiryType: must be U"),
    ({"inquiryType": "M"}, "inquiryType: must be U"),
    ({"Content-Type": "text/plain"}, "Content-Type: must be application/json"),
])
@pytest.mark.anyio
async def test_a_bad_header_is_a_710_validation_error(headers: dict[str, str | None], message: str) -> None:
    async with sandbox() as ups:
        ups.parcel()
        response = await ups.call("POST", f"{DI}/return/{TN}", RETURN, **headers)

    assert errors(response) == (400, "710", message)
    assert ups.world.parcels[TN].intercept is None


@pytest.mark.parametrize("number", ["1z999aa10000000001", "1Z999AA1000000000", "2Z999AA10000000001"])
@pytest.mark.anyio
async def test_a_tracking_number_of_another_shape_is_710(number: str) -> None:
    async with sandbox() as ups:
        response = await ups.intercept(tracking_no=number)

    assert errors(response) == (400, "710", "tracking_number: must match ^(1Z)[A-Z0-9]{16}$")


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "body: not valid JSON"),
    ([RETURN], "body: must be a JSON object"),
    ({**RETURN, "clientIP": "10.0.0.1"}, "clientIP: not a field of this request"),
    ({**RETURN, "requestType": "AA"}, "requestType: must be one of RS"),
    ({k: v for k, v in RETURN.items() if k != "specialInstructions"}, "specialInstructions: required (null allowed)"),
    ({**RETURN, "specialInstructions": ""}, "specialInstructions: required, a string of 1-254 characters"),
    ({**RETURN, "requesterContactInfo": None}, "requesterContactInfo: required, an object"),
    ({**RETURN, "requesterContactInfo": {"name": "x" * 31, "telephone": "+1"}},
     "requesterContactInfo.name: required, a string of 1-30 characters"),
    ({**RETURN, "requesterContactInfo": {"name": "a", "telephone": "13800138000"}},
     "requesterContactInfo.telephone: must match ^\\+[0-9]{1,13}$"),
    ({**RETURN, "reasonForReturn": "ZZ"},
     "reasonForReturn: required for RS, one of AM, AN, AQ, AR, AS, FA, KR, KS, KV"),
])
@pytest.mark.anyio
async def test_a_return_body_off_the_schema_is_710_naming_the_field(body: Any, message: str) -> None:
    async with sandbox() as ups:
        ups.parcel()
        response = await ups.intercept(body=body)

    assert errors(response) == (400, "710", message)
    assert ups.world.parcels[TN].intercept is None


@pytest.mark.parametrize(("address", "message"), [
    (None, "newDeliveryAddress: required for requestType AA"),
    ({**NEW_ADDRESS, "addressInfo": {**NEW_ADDRESS["addressInfo"], "postalCode": "2101"}},
     "newDeliveryAddress.addressInfo.postalCode: required, a string of 5-16 characters"),
    ({**NEW_ADDRESS, "addressInfo": {**NEW_ADDRESS["addressInfo"], "state": "Maryland"}},
     "newDeliveryAddress.addressInfo.state: required, a string of 2-2 characters"),
    ({**NEW_ADDRESS, "addressNickName": "x"},
     "newDeliveryAddress.addressNickName: required, a string of 2-20 characters"),
])
@pytest.mark.anyio
async def test_a_redirect_needs_a_complete_new_address(address: dict[str, Any] | None, message: str) -> None:
    body = {"requestType": "AA", "specialInstructions": None, "requesterContactInfo": CONTACT}
    if address is not None:
        body["newDeliveryAddress"] = address
    async with sandbox() as ups:
        ups.parcel()
        response = await ups.intercept("redirect/address", body=body)

    assert errors(response) == (400, "710", message)


@pytest.mark.anyio
async def test_a_redirect_is_placed_where_its_text_says_or_stays_in_the_recipients_city() -> None:
    body = {"requestType": "AA", "specialInstructions": "Handle With Care", "requesterContactInfo": CONTACT,
            "newDeliveryAddress": NEW_ADDRESS}
    shanghai = {**NEW_ADDRESS, "addressInfo": {**NEW_ADDRESS["addressInfo"], "addressLine1": "上海 1 Main St"}}
    async with sandbox() as ups:
        ups.parcel()
        ups.parcel(TN2)
        first = await ups.intercept("redirect/address", body=body)
        second = await ups.intercept("redirect/address", TN2, {**body, "newDeliveryAddress": shanghai})
        task, other = ups.world.parcels[TN].intercept, ups.world.parcels[TN2].intercept
        recipient_city = ups.world.parcels[TN].recipient.city

    assert (first.status_code, second.status_code) == (200, 200)
    assert (task.intercept_type, task.new_recipient.address) == (
        InterceptType.redirect, "12911 FORK RD, BALDWIN, MD, 21013, US")
    assert (task.new_recipient.name, task.new_recipient.phone, task.new_recipient.city) == (
        "张三", "+14105550100", recipient_city)
    assert other.new_recipient.city.name == "上海市"


# ---- intercepts, duplicates, the window ------------------------------------------------------------------

@pytest.mark.anyio
async def test_an_accepted_return_answers_the_task_as_transaction_id_and_records_the_fee() -> None:
    async with sandbox() as ups:
        ups.parcel()
        response = await ups.intercept()
        task = ups.world.parcels[TN].intercept

    assert response.status_code == 200
    assert response.json() == {"transactionId": task.task_id, "statusCode": "000", "statusMsg": "Success",
                                "success": True, "errors": None, "subStatusCode": ""}
    assert (task.intercept_type, task.fee_minor, task.reason, task.requested_by) == (
        InterceptType.return_to_sender, 2100, "AM", CLIENT_ID)
    assert dict(task.report_to) == {"protocol": "ups", "request_type": "RS", "client_id": CLIENT_ID, "lead": TN}


@pytest.mark.anyio
async def test_a_second_request_while_one_is_pending_is_a_duplicate_naming_it() -> None:
    async with sandbox() as ups:
        ups.parcel()
        first = (await ups.intercept()).json()
        second = await ups.intercept("willcall", body={"requestType": "WC", "specialInstructions": None,
                                                       "requesterContactInfo": CONTACT})

    assert second.status_code == 400
    assert second.json() == {"response": {"transactionId": first["transactionId"], "statusCode": "400", "errors": [
        {"code": "723", "message": "An intercept request is already pending for this package"}]}}


@pytest.mark.parametrize(("stage", "code"), [
    (TrackingStatus.created, "721"), (TrackingStatus.delivered, "722"),
])
@pytest.mark.anyio
async def test_outside_the_window_the_request_is_refused(stage: TrackingStatus, code: str) -> None:
    async with sandbox() as ups:
        ups.parcel(stage=stage)
        response = await ups.intercept()

    assert errors(response)[:2] == (400, code)


@pytest.mark.anyio
async def test_out_for_delivery_is_still_in_the_window_and_other_carriers_parcels_are_not() -> None:
    async with sandbox() as ups:
        ups.parcel(stage=TrackingStatus.out_for_delivery)
        ups.parcel(TN2, carrier="zto")
        accepted = await ups.intercept()
        other = await ups.intercept(tracking_no=TN2)
        unknown = await ups.intercept(tracking_no="1Z999AA19999999999")

    assert accepted.status_code == 200
    assert errors(other)[:2] == (400, "725")
    assert errors(unknown) == (400, "720", "Tracking number not found")


# ---- eligibility and charges ------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_eligibility_follows_the_parcel_and_its_intercept() -> None:
    async with sandbox() as ups:
        unknown = await ups.eligibility()
        ups.parcel()
        open_ = await ups.eligibility()
        await ups.intercept()
        pending = await ups.eligibility()
        await ups.world.advance(3 * HOUR)
        done = await ups.eligibility()

    assert list(open_) == ["SDWC", "RTS", "WC", "FD", "RD"]

    def values(features: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {(v["createEligibility"], v["modifyEligibility"], v["cancelEligibility"]) for v in features.values()}

    assert values(unknown) == {("UNKNOWN", "UNKNOWN", "UNKNOWN")}
    assert values(open_) == {("ELIGIBLE", "NOT_ELIGIBLE", "NOT_ELIGIBLE")}
    assert [r["id"] for r in open_["RTS"]["reasonOptionsForRTS"]] == ["AM", "AN", "AQ", "AR", "AS", "FA", "KR",
                                                                      "KS", "KV"]
    assert values(pending) == {("NOT_ELIGIBLE", "ELIGIBLE", "ELIGIBLE")}
    assert values(done) == {("NOT_ELIGIBLE", "NOT_ELIGIBLE", "NOT_ELIGIBLE")}
    assert "reasonOptionsForRTS" not in done["RTS"]


@pytest.mark.anyio
async def test_the_fee_is_quoted_before_and_shown_charged_only_once_the_intercept_completed() -> None:
    async with sandbox() as ups:
        ups.parcel()
        before = (await ups.charges()).json()["response"]
        await ups.intercept()
        pending = (await ups.charges()).json()["response"]["chargeInfo"][0]
        await ups.world.advance(3 * HOUR)
        after = (await ups.charges()).json()["response"]["chargeInfo"][0]

    info = before["chargeInfo"][0]
    assert (before["statusCode"], before["success"]) == ("000", True)
    assert {k: info[k] for k in ("trackingNumber", "interceptCharge", "transportationCharge", "totalCharge",
                                 "chargeCurrency", "estDeliveryDate", "shipperPaidInterceptCharges")} == {
        "trackingNumber": TN, "interceptCharge": "21.00", "transportationCharge": "0.00", "totalCharge": "21.00",
        "chargeCurrency": "USD", "estDeliveryDate": "20250302", "shipperPaidInterceptCharges": True}
    assert [d["successful"] for d in (info, pending, after) for d in d["interceptChargeDetail"]] == [
        False, False, True]


@pytest.mark.anyio
async def test_an_all_options_quote_prices_each_and_will_call_is_free() -> None:
    async with sandbox() as ups:
        ups.parcel()
        info = (await ups.charges("AL")).json()["response"]["chargeInfo"][0]

    assert info["totalCharge"] == "0.00"
    assert [(d["interceptOption"], d["totalCharge"]) for d in info["interceptChargeDetail"]] == [
        ("WC", "0.00"), ("SC", "0.00"), ("FD", "21.00"), ("AA", "21.00"), ("RS", "21.00")]


@pytest.mark.parametrize(("body", "message"), [
    ({}, "ratingRequest: required, a non-empty array"),
    ({"ratingRequest": [{"trackInfo": {"interceptOption": "XX"}}]},
     "ratingRequest[0].trackInfo.interceptOption: must be one of WC, SC, FD, AA, RS, AL"),
    ({"ratingRequest": [{"trackInfo": {"interceptOption": "RS"}, "shipperNumber": "S4NDB0"}]},
     "ratingRequest[0].shipperNumber: not a field of a rating request"),
])
@pytest.mark.anyio
async def test_a_charges_body_off_the_schema_is_710(body: dict[str, Any], message: str) -> None:
    async with sandbox() as ups:
        ups.parcel()
        response = await ups.call("POST", f"{DI}/charges/{TN}", body)

    assert errors(response) == (400, "710", message)


@pytest.mark.anyio
async def test_a_will_call_records_no_fee() -> None:
    async with sandbox() as ups:
        ups.parcel()
        response = await ups.intercept("willcall", body={"requestType": "WC", "specialInstructions": None,
                                                         "requesterContactInfo": CONTACT})
        task = ups.world.parcels[TN].intercept

    assert (response.status_code, task.fee_minor, task.intercept_type) == (200, 0, InterceptType.redirect)
    assert task.new_recipient.address.startswith("UPS Customer Center")


# ---- at most 20 packages per request, one request per shipment ---------------------------------------------

def numbers(count: int) -> list[str]:
    return [f"1Z999AA1{n:010d}" for n in range(1, count + 1)]


@pytest.mark.anyio
async def test_a_request_covers_up_to_20_packages_of_one_shipment() -> None:
    twenty = numbers(20)
    async with sandbox() as ups:
        for number in twenty[:-1]:
            ups.parcel(number)
        ups.parcel(twenty[-1], stage=TrackingStatus.delivered)
        ups.twin.register_shipment(twenty)
        body = {**RETURN, "multiTrackingNumbers": [{"trackingNumber": n} for n in twenty[1:]]}
        response = await ups.intercept(tracking_no=twenty[0], body=body)
        tasks = [ups.world.parcels[n].intercept for n in twenty]

    assert response.status_code == 200
    assert response.json()["warnings"] == {twenty[-1]: "722 Package has already been delivered"}
    assert response.json()["transactionId"] == tasks[0].task_id
    assert [t is not None for t in tasks] == [True] * 19 + [False]
    assert {t.report_to["lead"] for t in tasks[:-1]} == {twenty[0]}


@pytest.mark.anyio
async def test_more_than_20_packages_or_another_shipments_package_is_710() -> None:
    many = numbers(21)
    async with sandbox() as ups:
        for number in many:
            ups.parcel(number)
        ups.twin.register_shipment(many[:20])
        ups.twin.register_shipment(many[20:])
        too_many = await ups.intercept(tracking_no=many[0], body={
            **RETURN, "multiTrackingNumbers": [{"trackingNumber": n} for n in many[1:]]})
        other_shipment = await ups.intercept(tracking_no=many[0], body={
            **RETURN, "multiTrackingNumbers": [{"trackingNumber": many[20]}]})
        bad = await ups.intercept(tracking_no=many[0], body={**RETURN, "multiTrackingNumbers": [{"trackingNumber": 1}]})
        intercepted = [n for n in many if ups.world.parcels[n].intercept is not None]

    assert errors(too_many) == (400, "710", "multiTrackingNumbers: max 20 packages per request")
    assert errors(other_shipment) == (400, "710", f"multiTrackingNumbers: {many[20]} is not in the shipment of "
                                                  f"{many[0]} (one request per shipment)")
    assert errors(bad) == (400, "710", "multiTrackingNumbers[0].trackingNumber: must match ^(1Z)[A-Z0-9]{16}$")
    assert intercepted == []


# ---- cancel ------------------------------------------------------------------------------------------------

CANCEL = {"specialInstructions": None, "requesterContactInfo": CONTACT}


@pytest.mark.anyio
async def test_cancel_works_only_before_completion_and_only_for_the_requester() -> None:
    async with sandbox() as ups:
        ups.parcel()
        ups.parcel(TN2)
        nothing = await ups.call("POST", f"{DI}/cancel/{TN}", CANCEL)
        task_id = (await ups.intercept()).json()["transactionId"]
        cancelled = await ups.call("POST", f"{DI}/cancel/{TN}", {**CANCEL, "requestType": "RS"})
        again = (await ups.intercept()).json()["transactionId"]
        await ups.intercept(tracking_no=TN2)
        await ups.world.advance(3 * HOUR)
        too_late = await ups.call("POST", f"{DI}/cancel/{TN2}", CANCEL)
        parcel = ups.world.parcels[TN]

    assert errors(nothing) == (400, "726", "No intercept request to cancel for this package")
    assert cancelled.json()["transactionId"] == task_id
    assert [t.state for t in parcel.past_intercepts] == [TaskState.cancelled]
    assert again != task_id and parcel.intercept.task_id == again  # a new request may follow a cancel
    assert errors(too_late) == (400, "727", "The intercept has already been completed and cannot be cancelled")


# ---- Track API ---------------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_the_track_api_lists_activities_newest_first_in_ups_form() -> None:
    async with sandbox() as ups:
        ups.parcel()
        await ups.intercept()
        await ups.world.advance(3 * HOUR)
        response = await ups.call("GET", f"/ups/api/track/v1/details/{TN}", inquiryType=None, **{"Content-Type": None})

    package = response.json()["trackResponse"]["shipment"][0]["package"][0]
    activities = package["activity"]
    assert [(a["status"]["type"], a["status"]["code"]) for a in activities] == [
        ("I", "IR"), ("I", "DP"), ("P", "PU"), ("M", "MP")]
    newest = activities[0]
    assert {k: newest[k] for k in ("date", "time", "gmtDate", "gmtTime", "gmtOffset")} == {
        "date": "20250301", "time": "130000", "gmtDate": "20250301", "gmtTime": "05:00:00", "gmtOffset": "+08:00"}
    assert newest["location"]["address"]["countryCode"] == "CN"
    assert package["currentStatus"] == newest["status"]


@pytest.mark.anyio
async def test_the_track_api_answers_404_for_a_number_it_does_not_know_and_needs_a_trans_id() -> None:
    async with sandbox() as ups:
        response = await ups.call("GET", f"/ups/api/track/v1/details/{TN}", transId="a-long-transaction-id-0001")
        missing = await ups.call("GET", f"/ups/api/track/v1/details/{TN}", transId=None)

    assert errors(response) == (404, "151044", "No tracking information available")
    assert errors(missing) == (400, "710", "transId: required, 1-32 characters")


# ---- CIE stubs, faults, logs, and no pushes --------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "trans_id", "body"), [
    ("POST", f"{DI}/return/1Z4096YY0316914058", "SIIReturn", RETURN),
    ("POST", f"{DI}/cancel/1Z4096YY0316914058", "SIICancel", CANCEL),
    ("GET", f"{DI}/eligibility/intercept/1Z6568YY1200043419", "SUPER14", None),
])
@pytest.mark.anyio
async def test_the_cie_magic_values_answer_canned_success_without_a_parcel(method: str, path: str, trans_id: str,
                                                                          body: Any) -> None:
    async with sandbox() as ups:
        response = await ups.call(method, path, body, transId=trans_id)

    answer = response.json().get("response", response.json())
    assert (response.status_code, answer["statusCode"], answer["transactionId"]) == (200, "000", trans_id)
    assert ups.world.parcels == {}


@pytest.mark.anyio
async def test_faults_apply_per_channel_in_ups_words() -> None:
    async with sandbox() as ups:
        ups.parcel()
        ups.token = (await ups.fetch_token()).json()["access_token"]
        ups.world.faults.set_plan(FaultPlan(channels={Channel.query: FaultSettings(error_rate=1.0),
                                                      Channel.intercept: FaultSettings(rate_limit_per_second=1)}))
        failed = await ups.call("GET", f"{DI}/eligibility/intercept/{TN}")
        first = await ups.intercept()
        limited = await ups.intercept()

    assert failed.status_code in (500, 502)
    assert first.status_code == 200
    assert errors(limited) == (429, "10429", "Too Many Requests")


@pytest.mark.anyio
async def test_the_request_log_names_the_operation_the_package_and_the_client() -> None:
    async with sandbox() as ups:
        ups.parcel()
        await ups.intercept()
        log = [(e.channel, e.method, e.waybill_no, e.http_status, e.code, e.account) for e in ups.world.request_log]

    assert log == [(Channel.query, "token", "", 200, "200", CLIENT_ID),
                   (Channel.intercept, "return", TN, 200, "000", CLIENT_ID)]


@pytest.mark.anyio
async def test_ups_pushes_nothing_when_parcels_move_or_intercepts_end() -> None:
    async with sandbox() as ups:
        ups.world.faults.set_plan(FaultPlan(default=FaultSettings(duplicate_push_rate=1.0, out_of_order_rate=1.0)))
        ups.parcel()
        await ups.intercept()
        await ups.world.advance(40 * HOUR)
        await ups.world.settle()

    assert ups.world.parcels[TN].status is TrackingStatus.returned
    assert ups.world.push_log == {}
