"""Carrier plugins are found through entry points; carrier names read as plugin plus courier code."""

from __future__ import annotations

import httpx
import pytest

from lanjie.carriers import (
    DEFAULT_PLUGIN,
    Capability,
    Carrier,
    CarrierInfo,
    UnknownCarrier,
    build,
    capability_table,
    load_carriers,
    resolve,
)
from lanjie.carriers.kuaidi100 import Kuaidi100
from lanjie.domain.states import InterceptType

from .kuaidi100_support import ACCOUNT

PLUGINS = {"jd": "JD", "jtexpress": "JT", "kdniao": "Kdniao", "kuaidi100": "Kuaidi100", "sf": "SF", "sto": "STO",
           "ups": "UPS", "yunda": "Yunda", "zto": "ZTO"}


def test_the_installed_plugins_are_loaded_from_the_entry_point_group() -> None:
    loaded = load_carriers()
    assert {name: cls.__name__ for name, cls in loaded.items()} == PLUGINS
    assert all(cls.__module__.startswith(f"lanjie.carriers.{name}") and cls.name == name
               for name, cls in loaded.items())


def test_the_capability_table_lists_what_each_plugin_can_do() -> None:
    table = capability_table()
    assert [info.name for info in table] == sorted(PLUGINS)
    assert table[[i.name for i in table].index("kuaidi100")] == CarrierInfo(
        "kuaidi100", "Kuaidi100 快递100 (aggregator)", frozenset({
            Capability.intercept, Capability.query_intercept, Capability.subscribe, Capability.parse_push,
            Capability.query_tracking, Capability.file_claim, Capability.claim_status}),
        frozenset({"zto", "yto", "sto", "yunda", "jtexpress", "jt", "sf", "shunfeng", "jd", "ems", "debangwuliu",
                   "youzhengguonei", "ups"}),
        frozenset({InterceptType.return_to_sender, InterceptType.return_to_outlet, InterceptType.redirect}),
        None, ("key", "customer", "secret", "salt"), 20.0)
    for info in table:
        # A plugin either intercepts itself or names the aggregator that does it for it, never both.
        assert (Capability.intercept in info.capabilities) != (info.intercept_via is not None), info.name
        assert bool(info.intercept_types) == (Capability.intercept in info.capabilities), info.name
        assert info.credential_names and info.rate_limit_per_second > 0, info.name


def test_a_native_plugin_serves_only_its_own_couriers() -> None:
    assert resolve("sf:sf") == ("sf", "sf") and resolve("kdniao:zto") == ("kdniao", "zto")
    with pytest.raises(ValueError) as caught:
        resolve("sf:zto")
    assert str(caught.value) == "carrier plugin 'sf' serves only sf, shunfeng, not 'zto'"


@pytest.mark.parametrize(("name", "resolved"), [
    ("kuaidi100:zto", ("kuaidi100", "zto")),
    ("zto", ("kuaidi100", "zto")),
    ("ZTO", ("kuaidi100", "zto")),
    (" kuaidi100:shunfeng ", ("kuaidi100", "shunfeng")),
    ("kuaidi100:ems", ("kuaidi100", "ems")),
])
def test_a_carrier_name_resolves_to_plugin_and_courier(name: str, resolved: tuple[str, str]) -> None:
    assert resolve(name) == resolved
    assert DEFAULT_PLUGIN == "kuaidi100"


@pytest.mark.parametrize("name", ["kuaidi100:qwerty", "kuaidi100:fedex", "qwerty", "kuaidi100:zhongtong"])
def test_a_courier_kuaidi100_has_no_code_for_is_refused(name: str) -> None:
    with pytest.raises(ValueError) as caught:
        resolve(name)

    assert not isinstance(caught.value, UnknownCarrier)
    assert str(caught.value) == (
        "carrier plugin 'kuaidi100' serves only debangwuliu, ems, jd, jt, jtexpress, sf, shunfeng, sto, ups, "
        f"youzhengguonei, yto, yunda, zto, not {name.rpartition(':')[2]!r}")


@pytest.mark.parametrize("name", ["fedex:zto", "dhl:1z", "a:b:zto"])
def test_an_unknown_plugin_is_named_in_the_error(name: str) -> None:
    with pytest.raises(UnknownCarrier) as caught:
        resolve(name)

    assert caught.value.plugin == name.rsplit(":", 1)[0]
    assert str(caught.value) == f"no carrier plugin named {caught.value.plugin!r} is installed"


@pytest.mark.parametrize("name", ["z", "kuaidi100:", "zto-express", "kuaidi100:中通", "x" * 21, ""])
def test_a_malformed_courier_code_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="courier code") as caught:
        resolve(name)

    assert not isinstance(caught.value, UnknownCarrier)


def test_resolve_can_be_given_the_known_plugins() -> None:
    assert resolve("sandbox:zto", plugins={"sandbox"}) == ("sandbox", "zto")
    with pytest.raises(UnknownCarrier):
        resolve("zto", plugins={"sandbox"})


@pytest.mark.anyio
async def test_build_makes_the_adapter_an_account_names() -> None:
    async with httpx.AsyncClient() as client:
        carrier = build(ACCOUNT, client)

    assert type(carrier) is Kuaidi100
    assert carrier.exchanges == []


@pytest.mark.anyio
async def test_kuaidi100_is_a_carrier() -> None:
    async with httpx.AsyncClient() as client:
        # The annotation is the check: a type checker compares Kuaidi100 with the Carrier protocol.
        carrier: Carrier = Kuaidi100(ACCOUNT, client)

    assert (carrier.name, carrier.exchanges) == ("kuaidi100", [])
