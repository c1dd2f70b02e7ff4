"""The event stream: the shop's own events, in order, resumable with Last-Event-ID."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from lanjie.service import shops
from tests.e2e.live import Live


def _read(live: Live, n: int, *, headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
          api_key: str | None = None, wait: float = 3.0) -> list[dict[str, Any]]:
    """Up to ``n`` events from the stream, within ``wait`` seconds."""
    events: list[dict[str, Any]] = []
    auth = {"Authorization": f"Bearer {api_key or live.api_key}"}
    deadline = time.monotonic() + wait
    with httpx.Client(base_url=live.base, timeout=httpx.Timeout(5.0, read=wait)) as http, \
            http.stream("GET", "/v1/events", headers={**auth, **(headers or {})}, params=params) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        current: dict[str, str] = {}
        try:
            for line in stream.iter_lines():
                if line.startswith(("id:", "event:", "data:")):
                    field, _, value = line.partition(":")
                    current[field] = value.strip()
                elif not line and "data" in current:
                    events.append({"id": int(current["id"]), "event": current.get("event", "message"),
                                   "data": json.loads(current["data"])})
                    current = {}
                    if len(events) >= n:
                        break
                if time.monotonic() > deadline:
                    break
        except httpx.ReadTimeout:
            pass
    return events


def test_stream_replays_in_order_and_resumes_after_last_event_id(live: Live) -> None:
    live.parcel("ZT800000001", "in_transit")
    live.ship("ZT800000001", "E-1")
    case = live.open_case("E-1", ["ZT800000001"])
    live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
    live.wait_for(lambda: live.case(case["id"])["intercepts"][0]["status"] == "submitted")

    everything = _read(live, 100, params={"since": 0}, wait=1.5)
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    case_events = [e["event"] for e in everything if e["data"]["aftersale_id"] == case["id"]]
    assert case_events == ["aftersale.created", "aftersale.status_changed", "intercept.requested",
                           "intercept.submitted"]
    assert all(e["event"] == e["data"]["type"] and e["id"] == e["data"]["id"] for e in everything)

    middle = ids[len(ids) // 2]
    resumed = _read(live, 100, headers={"Last-Event-ID": str(middle)}, wait=1.5)
    assert [e["id"] for e in resumed] == [i for i in ids if i > middle]


def test_stream_without_a_position_starts_at_now_and_shows_the_answer_live(live: Live) -> None:
    live.parcel("ZT800000002", "in_transit")
    live.ship("ZT800000002", "E-2")
    case = live.open_case("E-2", ["ZT800000002"])
    import threading

    got: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: got.extend(_read(live, 3, wait=5.0)))
    reader.start()
    time.sleep(0.3)  # the reader is connected and positioned at "now"
    live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
    reader.join(timeout=10)
    assert [e["event"] for e in got] == ["aftersale.status_changed", "intercept.requested", "intercept.submitted"]


def test_another_shops_stream_shows_none_of_these_events(live: Live) -> None:
    live.parcel("ZT800000003", "in_transit")
    live.ship("ZT800000003", "E-3")
    live.open_case("E-3", ["ZT800000003"])
    _, other_key = shops.create_shop(live.container.engine, "Other shop")
    assert _read(live, 1, params={"since": 0}, api_key=other_key, wait=1.0) == []
    assert len(_read(live, 1, params={"since": 0}, wait=1.0)) == 1


def test_plain_sends_the_same_events_unnamed_for_a_browsers_eventsource(live: Live) -> None:
    live.parcel("ZT800000004", "in_transit")
    live.ship("ZT800000004", "E-4")
    live.open_case("E-4", ["ZT800000004"])
    named = _read(live, 100, params={"since": 0}, wait=1.0)
    plain = _read(live, 100, params={"since": 0, "plain": "true"}, wait=1.0)
    assert [e["event"] for e in plain] == ["message"] * len(named) and len(named) >= 2
    assert [(e["id"], e["data"]) for e in plain] == [(e["id"], e["data"]) for e in named]
    assert [e["data"]["type"] for e in plain] == [e["event"] for e in named]
