"""Every carrier plugin, end to end: lanjie's API and worker against that carrier's sandbox twin over HTTP.

The same scenarios run for each carrier, so each cell of the capability matrix (docs/carriers.md) has a
test behind it: the intercept round trip (natively, or through Kuaidi100 for carriers without a public
intercept API), a lost answer queried before any resubmission, 5xx retried, rate limits respected per
account, duplicate / out-of-order / forged pushes, a push that beats the synchronous answer, cancel
where the carrier has one, tracking by polling where the carrier pushes nothing, and the carrier's
exchanges on the case timeline with no credential in them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.store import tables as t
from tests.e2e.live import K100_SECRET, Live, start_live, stop_live

DAY = 24 * 3600
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Spec:
    carrier: str  # lanjie's plugin:courier
    waybill: Callable[[int], str]
    pushes: bool  # the carrier pushes tracking (else lanjie polls)
    cancel: bool  # the intercept can be withdrawn
    label_scan: bool = True  # the carrier reports the label-printed scan (ZTO, STO, J&T document none)
    # The carrier can say it holds our intercept (JD's result query, UPS eligibility); the others' "query"
    # reads the trace, which cannot tell, so after a lost answer lanjie sends the request again.
    intercept_query: bool = False

    @property
    def plugin(self) -> str:
        return self.carrier.partition(":")[0]

    @property
    def interceptor(self) -> str:
        """The plugin that carries the intercept itself."""
        return self.plugin if self.plugin in ("kuaidi100", "sf", "ups", "jd") else "kuaidi100"


SPECS = [
    Spec("kuaidi100:zto", lambda n: f"ZT8{n:09d}", pushes=True, cancel=False),
    Spec("sf:sf", lambda n: f"SF{n:013d}", pushes=True, cancel=True),
    Spec("ups:ups", lambda n: f"1Z999AA1{n:010d}", pushes=False, cancel=True, intercept_query=True),
    Spec("jd:jd", lambda n: f"JDV{n:012d}", pushes=False, cancel=False, intercept_query=True),
    Spec("zto:zto", lambda n: f"7{n:011d}", pushes=True, cancel=False, label_scan=False),
    Spec("jtexpress:jtexpress", lambda n: f"JT{n:013d}", pushes=True, cancel=False, label_scan=False),
    Spec("sto:sto", lambda n: f"77{n:011d}", pushes=True, cancel=False, label_scan=False),
    Spec("yunda:yunda", lambda n: f"31{n:011d}", pushes=True, cancel=False),
    Spec("kdniao:zto", lambda n: f"ZK7{n:09d}", pushes=True, cancel=False),
]
PUSHING = [s for s in SPECS if s.pushes]


@pytest.fixture(params=SPECS, ids=lambda s: s.carrier)
def spec(request: pytest.FixtureRequest) -> Spec:
    return request.param


def _live(database_url: str, tmp_path: Path, **kwargs: Any) -> Live:
    settings = {"carrier_timeout_seconds": 1.0, "tracking_poll_seconds": 0.2, **kwargs.pop("settings", {})}
    return start_live(database_url, tmp_path, settings=settings, **kwargs)


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    server = _live(database_url, tmp_path)
    yield server
    stop_live(server)


def _faults(live: Live, **channels: dict[str, Any]) -> None:
    r = live.client.put("/sandbox/control/faults", json={"channels": channels})
    assert r.status_code == 200, r.text


def _log(live: Live, waybill: str) -> list[dict[str, Any]]:
    return live.client.get("/sandbox/control/requests", params={"waybill_no": waybill}).json()["requests"]


def _world_parcel(live: Live, waybill: str) -> dict[str, Any]:
    return live.client.get(f"/sandbox/control/parcels/{waybill}").json()


def _intercept(live: Live, case_id: str, type_: str = "return_to_sender") -> None:
    r = live.post(f"/v1/aftersales/{case_id}/intercepts", {"type": type_})
    assert r.status_code == 202, r.text


def _status(live: Live, case_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
    return live.wait_for(lambda: (c := live.case(case_id))["status"] == status and c, timeout=timeout)


def _intercept_status(live: Live, case_id: str, *statuses: str, timeout: float = 20.0) -> dict[str, Any]:
    return live.wait_for(lambda: (c := live.case(case_id))["intercepts"][0]["status"] in statuses and c,
                         timeout=timeout)


def _secrets(live: Live) -> list[str]:
    values = [K100_SECRET]
    for twin in live.world.twins.values():
        values += [v for v in twin.test_credentials.values() if len(v) >= 6]
    return values


def test_intercept_round_trip_settles_the_refund_and_keeps_the_exchanges(spec: Spec, live: Live) -> None:
    waybill = spec.waybill(1)
    case = live.staged_case(waybill, "C-1", "in_transit", carrier=spec.carrier)
    preview = live.post(f"/v1/aftersales/{case['id']}/intercept-preview", {})
    assert preview.status_code == 200, preview.text
    parcel = preview.json()["parcels"][0]
    assert parcel["can_intercept"] is True and "return_to_sender" in parcel["intercept_types"]
    _intercept(live, case["id"])
    submitted = _intercept_status(live, case["id"], "submitted")
    task = _world_parcel(live, waybill)["intercept"]
    assert submitted["intercepts"][0]["task_id"] == task["task_id"]
    live.advance(2 * DAY)
    done = _status(live, case["id"], "completed")
    assert done["intercepts"][0]["status"] == "succeeded" and len(done["refunds"]) == 1
    with live.container.engine.connect() as conn:
        exchanges = conn.execute(sa.select(t.carrier_exchanges)).mappings().all()
    carriers = {x["carrier"] for x in exchanges}
    assert {spec.plugin, spec.interceptor} <= carriers
    ops = [x["operation"] for x in done["carrier_exchanges"]]
    assert "intercept" in ops  # the carrier's request and answer are on the case timeline
    if not spec.pushes:  # so are the parcel's tracking polls since the case opened
        assert "query_tracking" in ops
    for x in exchanges:
        for secret in _secrets(live):
            assert secret not in x["request_body"] and secret not in x["response_body"], (x["operation"], secret)


def test_a_lost_answer_is_queried_before_anything_is_sent_again(spec: Spec, live: Live) -> None:
    waybill = spec.waybill(2)
    case = live.staged_case(waybill, "C-2", "in_transit", carrier=spec.carrier)
    _faults(live, intercept={"timeout_rate": 1.0, "timeout_seconds": 2.0})  # done, but the answer comes late
    _intercept(live, case["id"])
    unknown = _intercept_status(live, case["id"], "unknown")
    assert unknown["intercepts"][0]["task_id"] is None
    _faults(live)
    submitted = _intercept_status(live, case["id"], "submitted")
    world = _world_parcel(live, waybill)
    # The task id is the carrier's, from its answer or its query (UPS eligibility names none).
    task_id = None if spec.plugin == "ups" else world["intercept"]["task_id"]
    assert submitted["intercepts"][0]["task_id"] == task_id
    assert world["cancelled_intercepts"] == []  # the carrier holds one intercept, not two
    channels = [x["channel"] for x in _log(live, waybill) if x["channel"] in ("intercept", "query")]
    channels = channels[channels.index("intercept"):]  # trace polls and prechecks may come first
    first_query = channels.index("query", 1)
    assert channels[0] == "intercept" and "intercept" not in channels[1:first_query]
    types = [e["type"] for e in submitted["timeline"] if e["type"].startswith("intercept.")]
    if spec.intercept_query:  # the carrier said it holds the intercept: nothing was sent again
        assert channels.count("intercept") == 1, channels
        assert types == ["intercept.requested", "intercept.unknown", "intercept.submitted"]
    else:  # the trace could not tell: sent again, and the carrier's "already intercepted" counts as accepted
        assert channels.count("intercept") == 2, channels
        assert types == ["intercept.requested", "intercept.unknown", "intercept.resubmitted", "intercept.submitted"]


def test_5xx_is_retried_and_the_carriers_rate_limit_is_waited_out(spec: Spec, live: Live) -> None:
    waybill = spec.waybill(3)
    case = live.staged_case(waybill, "C-3", "in_transit", carrier=spec.carrier)
    _faults(live, intercept={"error_rate": 1.0})
    _intercept(live, case["id"])
    live.wait_for(lambda: any(x["http_status"] >= 500 for x in _log(live, waybill)))
    assert live.case(case["id"])["intercepts"][0]["status"] == "requested"
    _faults(live)
    _intercept_status(live, case["id"], "submitted")
    intercepts = [x for x in _log(live, waybill) if x["channel"] == "intercept"]
    assert [x["http_status"] >= 500 for x in intercepts][:-1] == [True] * (len(intercepts) - 1)
    # The carrier allows one intercept request a second; three cases at once: refusals are retried.
    _faults(live, intercept={"rate_limit_per_second": 1})
    cases = [live.staged_case(spec.waybill(30 + n), f"C-3{n}", "in_transit", carrier=spec.carrier) for n in range(3)]
    for c in cases:
        _intercept(live, c["id"])
    for c in cases:
        _intercept_status(live, c["id"], "submitted", timeout=30)
    assert all(i["status"] != "refused" for c in cases for i in live.case(c["id"])["intercepts"])


def test_lanjie_paces_itself_to_the_accounts_rate(spec: Spec, database_url: str, tmp_path: Path) -> None:
    live = _live(database_url, tmp_path, settings={"carrier_rate_limit_per_second": 2.0})
    try:
        # The carrier allows 4 a second; six requests at once would meet refusals, but the account's 2/s
        # (bursts of 2) never puts more than 4 in any second, however the requests jitter.
        _faults(live, intercept={"rate_limit_per_second": 4})
        waybills = [spec.waybill(40 + n) for n in range(6)]
        cases = [live.staged_case(w, f"C-4{n}", "in_transit", carrier=spec.carrier) for n, w in enumerate(waybills)]
        for c in cases:
            _intercept(live, c["id"])
        for c in cases:
            _intercept_status(live, c["id"], "submitted", timeout=30)
        sent = [x for w in waybills for x in _log(live, w) if x["channel"] == "intercept"]
        assert len(sent) == 6  # every request went through the first time: none was turned away
    finally:
        stop_live(live)


@pytest.mark.parametrize("spec", PUSHING, ids=lambda s: s.carrier)
def test_duplicate_out_of_order_and_forged_pushes(spec: Spec, live: Live) -> None:
    waybill = spec.waybill(5)
    _faults(live, push={"duplicate_push_rate": 1.0, "out_of_order_rate": 1.0})
    live.parcel(waybill, "picked_up", carrier=spec.carrier)
    shipment = live.ship(waybill, "C-5", carrier=spec.carrier)
    live.tracked(shipment["id"], "picked_up")
    live.advance(DAY)
    live.client.post("/sandbox/control/settle")
    world = _world_parcel(live, waybill)
    final = live.tracked(shipment["id"], world["status"])
    reported = [h for h in world["history"] if spec.label_scan or h["code"] != "ordered"]
    assert len(final["tracking_events"]) == len(reported)
    assert len(world["pushes"]) > len(world["history"])  # the sandbox really repeated itself
    with live.container.engine.connect() as conn:
        changes = conn.execute(sa.select(t.events.c.payload).where(
            t.events.c.type == "shipment.tracking_updated", t.events.c.subject_id == shipment["id"])).scalars().all()
        inbox_before = conn.execute(sa.select(sa.func.count()).select_from(t.inbox)).scalar_one()
        token = conn.execute(sa.select(t.carrier_accounts.c.callback_token).where(
            t.carrier_accounts.c.carrier == spec.plugin)).scalar_one()
    times = [c["at"] for c in changes]
    assert times == sorted(times) and len(times) == len(set(times))  # only ever forward, never twice
    url = f"/v1/carriers/{spec.plugin}/callbacks/{token}"
    for body, media in ((b"", "application/json"), (b"param=%7B%7D&sign=00", "application/x-www-form-urlencoded"),
                        (b'{"forged": true}', "application/json")):
        r = live.client.post(url, content=body, headers={"Content-Type": media})
        assert r.status_code in (400, 401), (body, r.status_code, r.text)
    with live.container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.inbox)).scalar_one() == inbox_before


@pytest.mark.parametrize("spec", PUSHING, ids=lambda s: s.carrier)
def test_a_push_that_beats_the_synchronous_answer(spec: Spec, database_url: str, tmp_path: Path) -> None:
    live = _live(database_url, tmp_path, sandbox={"ack_latency_ms": 700})
    try:
        waybill = spec.waybill(6)
        case = live.staged_case(waybill, "C-6", "in_transit", carrier=spec.carrier)
        # The carrier turns the parcel back the moment it registers the request, and says so in a
        # tracking push while its answer to the request is still on the way.
        live.client.post(f"/sandbox/control/parcels/{waybill}/outcome", json={"outcome": "succeed"})
        _intercept(live, case["id"])
        done = _status(live, case["id"], "completed")
        assert len(done["refunds"]) == 1 and done["intercepts"][0]["status"] == "succeeded"
        types = [e["type"] for e in done["timeline"]]
        returning = next(i for i, e in enumerate(done["timeline"]) if e["type"] == "shipment.tracking_updated"
                         and e["payload"]["to"] == "returning")
        assert returning < types.index("intercept.submitted")
    finally:
        stop_live(live)


def test_cancel_where_the_carrier_has_one(spec: Spec, live: Live) -> None:
    waybill = spec.waybill(7)
    case = live.staged_case(waybill, "C-7", "in_transit", carrier=spec.carrier)
    _intercept(live, case["id"])
    icpt = _intercept_status(live, case["id"], "submitted")["intercepts"][0]
    r = live.post(f"/v1/aftersales/{case['id']}/intercepts/{icpt['id']}/cancel", {})
    if not spec.cancel:
        assert r.status_code == 409, r.text
        assert r.json()["rule"] == "not_supported"
        assert live.case(case["id"])["intercepts"][0]["status"] == "submitted"
        return
    assert r.status_code == 202, r.text
    done = _intercept_status(live, case["id"], "cancelled")
    assert done["status"] == "needs_attention"
    world = _world_parcel(live, waybill)
    assert world["intercept"] is None and [x["task_id"] for x in world["cancelled_intercepts"]] == [icpt["task_id"]]


def test_kuaidi100_corrects_a_wrong_carrier_code_and_lanjie_resubscribes(live: Live) -> None:
    live.parcel("ZT8000000099", "in_transit", carrier="kuaidi100:zto")
    shipment = live.ship("ZT8000000099", "C-8", carrier="kuaidi100:yto")  # the merchant picked the wrong one
    tracked = live.tracked(shipment["id"], "in_transit")
    assert tracked["carrier"] == "kuaidi100:zto"
    subscribes = [(x["code"], x["message"]) for x in _log(live, "ZT8000000099") if x["channel"] == "subscribe"]
    assert [code for code, _ in subscribes] == ["200", "200"]  # the wrong code, then the corrected one
