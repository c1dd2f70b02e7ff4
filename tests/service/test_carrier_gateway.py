"""How adapters are made: endpoints from settings, the per-account rate limit, the aggregator for intercepts."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import pytest

from lanjie.carriers.base import Capability, CarrierAccount, Subscription
from lanjie.carriers.registry import load_carriers
from lanjie.domain.states import InterceptType
from lanjie.service.carriers import CarrierGateway
from lanjie.service.ratelimit import RateLimits, TokenBucket
from lanjie.service.shops import AccountRecord
from lanjie.service.tracking_jobs import merge_history
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


K100_DEFAULTS = {"api": "https://api.kuaidi100.com", "poll": "https://poll.kuaidi100.com"}  # reference §2.1, §2.2
SANDBOX = "http://127.0.0.1:9/sandbox"


def _real(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> CarrierGateway:
    """A gateway over the installed plugins, with only ``settings`` set (the environment's are cleared)."""
    for name in ("LANJIE_KUAIDI100_API_URL", "LANJIE_KUAIDI100_POLL_URL", "LANJIE_CARRIER_SANDBOX_URL",
                 "LANJIE_CARRIER_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)
    return CarrierGateway(Settings(**settings), httpx.AsyncClient(), load_carriers())


@pytest.mark.anyio
async def test_kuaidi100_defaults_to_its_production_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = _real(monkeypatch)
    assert gateway.endpoints("kuaidi100") == K100_DEFAULTS
    seen: list[str] = []

    def production(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"result": True, "returnCode": "200", "message": "提交成功"})

    account = AccountRecord("ca_1", "shop_1", "kuaidi100", {"key": "k", "customer": "c", "secret": "s",
                                                              "salt": "s" * 32}, "tok")
    async with httpx.AsyncClient(transport=httpx.MockTransport(production)) as gateway.client:
        await gateway.adapter(account).subscribe(Subscription("zto", "7891", "https://lanjie.example/cb"))
    assert seen == ["https://poll.kuaidi100.com/poll"]


@pytest.mark.parametrize(("settings", "expected"), [
    ({"kuaidi100_api_url": "https://k100.example", "kuaidi100_poll_url": "https://poll.k100.example"},
     {"api": "https://k100.example", "poll": "https://poll.k100.example"}),
    ({"carrier_sandbox_url": SANDBOX}, {"api": f"{SANDBOX}/kuaidi100", "poll": f"{SANDBOX}/kuaidi100"}),
    # Set explicitly, the real Kuaidi100's own URL wins over the sandbox although it is the default.
    ({"carrier_sandbox_url": SANDBOX, "kuaidi100_api_url": K100_DEFAULTS["api"]},
     {"api": K100_DEFAULTS["api"], "poll": f"{SANDBOX}/kuaidi100"}),
    ({"carrier_sandbox_url": SANDBOX, **{f"kuaidi100_{name}_url": url for name, url in K100_DEFAULTS.items()}},
     K100_DEFAULTS),
    ({"carrier_sandbox_url": SANDBOX, "kuaidi100_poll_url": "https://poll.k100.example",
      "carrier_endpoints": {"kuaidi100": {"poll": "https://poll.override.example"}}},
     {"api": f"{SANDBOX}/kuaidi100", "poll": "https://poll.override.example"}),
])
def test_kuaidi100_urls_from_settings_override_the_defaults_and_the_sandbox(
        monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], expected: dict[str, str]) -> None:
    assert _real(monkeypatch, **settings).endpoints("kuaidi100") == expected


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
