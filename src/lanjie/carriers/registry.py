"""Finding carrier plugins (entry-point group ``lanjie.carriers``) and reading names like ``kuaidi100:zto``.

A parcel's carrier is written ``plugin:courier`` (``kuaidi100:zto``: ZTO, reached through Kuaidi100;
``sf:sf``: SF Express on its own open platform) or as a bare courier code (``zto``), which goes
through the default aggregator, Kuaidi100. A plugin that names its ``couriers`` serves only those.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from importlib.metadata import entry_points

import httpx

from lanjie.carriers.base import Carrier, CarrierAccount, CarrierInfo

log = logging.getLogger(__name__)

GROUP = "lanjie.carriers"
DEFAULT_PLUGIN = "kuaidi100"  # the aggregator a bare courier code goes through
_COURIER_CODE = re.compile(r"[a-z0-9]{2,20}")


class UnknownCarrier(ValueError):
    """No installed carrier plugin has this name."""

    def __init__(self, plugin: str) -> None:
        super().__init__(f"no carrier plugin named {plugin!r} is installed")
        self.plugin = plugin


def load_carriers() -> dict[str, type[Carrier]]:
    """Every installed carrier plugin by name; one that fails to import is logged and left out."""
    carriers: dict[str, type[Carrier]] = {}
    for entry in entry_points(group=GROUP):
        try:
            carriers[entry.name] = entry.load()
        except Exception:  # a broken third-party plugin must not take the others down with it
            log.exception("carrier plugin %r (%s) failed to load", entry.name, entry.value)
    return carriers


def resolve(carrier: str, *, plugins: Collection[str] | None = None) -> tuple[str, str]:
    """Split ``"kuaidi100:zto"`` into plugin and courier code; a bare ``"zto"`` goes through Kuaidi100.

    ``plugins`` defaults to the installed ones. Raises UnknownCarrier for a plugin that is not
    installed, ValueError for a courier code that is not 2–20 lower-case letters or digits.
    """
    plugin, _, courier = carrier.strip().lower().rpartition(":")
    plugin = plugin or DEFAULT_PLUGIN
    known = plugins if plugins is not None else load_carriers()
    if plugin not in known:
        raise UnknownCarrier(plugin)
    if not _COURIER_CODE.fullmatch(courier):
        raise ValueError(f"courier code {courier!r} must be 2-20 lower-case letters or digits")
    couriers = getattr(known[plugin], "couriers", None) if isinstance(known, Mapping) else None
    if couriers is not None and courier not in couriers:
        raise ValueError(f"carrier plugin {plugin!r} serves only {', '.join(sorted(couriers))}, not {courier!r}")
    return plugin, courier


def build(account: CarrierAccount, client: httpx.AsyncClient) -> Carrier:
    """The adapter for a shop's carrier account, built with the shared HTTP client."""
    carriers = load_carriers()
    if account.carrier not in carriers:
        raise UnknownCarrier(account.carrier)
    return carriers[account.carrier](account, client)


def capability_table() -> list[CarrierInfo]:
    """Each installed plugin and what it can do, sorted by name (for ``lanjie carriers``)."""
    return [describe(name, cls) for name, cls in sorted(load_carriers().items())]


def describe(name: str, cls: type[Carrier]) -> CarrierInfo:
    """A plugin's self-description; attributes a third-party plugin leaves out take neutral defaults."""
    return CarrierInfo(
        name=name, title=getattr(cls, "title", name), capabilities=frozenset(cls.capabilities),
        couriers=getattr(cls, "couriers", None), intercept_types=frozenset(getattr(cls, "intercept_types", ())),
        intercept_via=getattr(cls, "intercept_via", None), credential_names=tuple(getattr(cls, "credential_names", ())),
        rate_limit_per_second=float(getattr(cls, "rate_limit_per_second", 0.0)),
        optional_credential_names=tuple(getattr(cls, "optional_credential_names", ())))


def credential_problem(cls: type[Carrier], credentials: Mapping[str, str]) -> str | None:
    """What is wrong with credentials for a plugin (naming the field), or None.

    Every name in ``credential_names`` is required, those in ``optional_credential_names`` may be
    given, and no other name is taken (a typo would otherwise be stored and fail only at the first
    carrier call); a plugin may add rules of its own with a
    ``check_credentials(credentials) -> str | None`` class method (Kuaidi100: the salt's length).
    """
    expected = tuple(getattr(cls, "credential_names", ()))
    optional = tuple(getattr(cls, "optional_credential_names", ()))
    for name in expected:
        if not credentials.get(name):
            return f"credentials.{name} is required"
    unknown = sorted(set(credentials) - set(expected) - set(optional))
    if expected and unknown:
        takes = ", ".join([*expected, *(f"{name} (optional)" for name in optional)])
        return f"credentials.{unknown[0]} is not a credential of {cls.name} (it takes {takes})"
    check = getattr(cls, "check_credentials", None)
    return check(credentials) if check is not None else None
