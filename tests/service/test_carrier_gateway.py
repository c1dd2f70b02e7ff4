"""How adapters are made: endpoints from settings, the per-account rate limit, the aggregator for intercepts."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import pytest

from lanjie.carriers.base import Capability, CarrierAccount
from lanjie.domain.states import InterceptType
from lanjie.service.carriers import CarrierGateway
from lanjie.service.ratelimit import RateLimits, TokenBucket
from lanjie.service.shops import AccountRecord
from lanjie.service.workflows import merge_history
from lanjie.settings import Settings


class Native:
    name: ClassVar[str] = "acme"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.intercept, Capability.cancel_intercept,
                                                              Capability.precheck})
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset({InterceptType.return_to_sender})
    intercept_via: ClassVar[str | None] = None
    endpoint_names: ClassVar[tuple[str, ...]] = ("api", "track")
    rate_limit_per_second: ClassVar[float] = 4.0

    def __init__(self, account: CarrierAccount, client: httpx.AsyncClient) -> None:
        self.account = account


class TrackingOnly(Native):
    name: ClassVar[str] = "trk"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.subscribe})
    intercept_types: ClassVar[frozenset[InterceptType]] = frozenset()
    intercept_via: ClassVar[str | None] = "acme"
    rate_limit_per_second: ClassVar[float] = 0.0


def _gateway(**settings: Any) -> CarrierGateway:
    return CarrierGateway(Settings(**settings), httpx.AsyncClient(), {"acme": Native, "trk": TrackingOnly})


def _account(carrier: str = "acme", id_: str = "ca_1") -> AccountRecord:
    return AccountRecord(id_, "shop_1", carrier, {"key": "k"}, "tok")


def test_endpoints_come_from_the_sandbox_url_then_from_explicit_settings() -> None:
    assert _gateway().endpoints("acme") == {}  # the plugin's own production defaults apply
    gateway = _gateway(carrier_sandbox_url="http://127.0.0.1:9/sandbox/",
                       carrier_endpoints={"acme": {"track": "https://track.acme.example"}})
    assert gateway.endpoints("acme") == {"api": "http://127.0.0.1:9/sandbox/acme",
                                         "track": "https://track.acme.example"}
    assert gateway.endpoints("trk") == {"api": "http://127.0.0.1:9/sandbox/trk",
                                        "track": "http://127.0.0.1:9/sandbox/trk"}


def test_a_carrier_without_an_intercept_api_is_intercepted_through_the_one_it_names() -> None:
    gateway = _gateway()
    assert (gateway.intercept_plugin("trk"), gateway.intercept_plugin("acme")) == ("acme", "acme")
    assert gateway.offered_types("trk") == frozenset({InterceptType.return_to_sender})
    assert gateway.can_cancel("trk") and gateway.can_precheck("trk")
    assert gateway.offered_types("unknown") == frozenset() and not gateway.can_cancel("unknown")


def test_each_account_gets_its_own_limiter_at_the_plugins_rate_unless_configured() -> None:
    gateway = _gateway()
    first, again, other = (gateway.adapter(_account(id_=i)) for i in ("ca_1", "ca_1", "ca_2"))
    assert first.account.limiter == again.account.limiter != other.account.limiter  # type: ignore[attr-defined]
    assert gateway.rate("acme") == 4.0 and gateway.adapter(_account("trk")).account.limiter is None  # type: ignore
    assert _gateway(carrier_rate_limit_per_second=1.5).rate("acme") == 1.5


def test_the_token_bucket_spaces_requests_beyond_its_burst() -> None:
    now = [100.0]
    bucket = TokenBucket(2.0, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]
    now[0] += 1.0  # two tokens' worth of time has passed, both already promised
    assert bucket.reserve() == 0.5
    now[0] += 10.0  # a long pause refills only up to the burst
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.5]


def test_rate_limits_keep_one_bucket_per_account_and_remake_it_when_the_rate_changes() -> None:
    limits = RateLimits()
    a = limits.bucket("ca_1", 2.0)
    assert limits.bucket("ca_1", 2.0) is a and limits.bucket("ca_2", 2.0) is not a
    assert limits.bucket("ca_1", 3.0) is not a
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_incremental_scans_merge_into_the_history_newest_first_each_once() -> None:
    held = [{"at": "2026-01-01T10:00:00+00:00", "status": "in_transit", "code": "30", "description": "b"},
            {"at": "2026-01-01T08:00:00+00:00", "status": "picked_up", "code": "50", "description": "a"}]
    late = [{"at": "2026-01-01T09:00:00+00:00", "status": "in_transit", "code": "31", "description": "x"},
            dict(held[0])]
    assert [h["code"] for h in merge_history(held, late)] == ["30", "31", "50"]


def test_of_two_scans_in_the_same_second_the_one_learned_later_is_newer() -> None:
    held = [{"at": "2026-01-01T10:00:00+00:00", "status": "at_destination", "code": "ARRIVAL", "description": "a"}]
    caught = {"at": "2026-01-01T10:00:00+00:00", "status": "returning", "code": "RETURN", "description": "r"}
    assert [h["code"] for h in merge_history(held, [caught])] == ["RETURN", "ARRIVAL"]
    assert [h["code"] for h in merge_history([caught, *held], [dict(held[0])])] == ["RETURN", "ARRIVAL"]
