"""The native carrier twins: one per carrier plugin, each speaking that carrier's own protocol.

Kuaidi100's twin is built into the world (it was the first, and the aggregator every Chinese
courier can be reached through); the others are listed here and mounted at ``/sandbox/<name>``.
A twin is a class with the ``Twin`` shape below, in ``lanjie.sandbox.<name>``.

Each twin knows one test account by default (``test_credentials``, the same names as the lanjie
plugin's ``credential_names``), so a sandbox is usable without registering anything; more
accounts, or an expired one, come through ``POST /sandbox/control/carriers/{name}/accounts``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from fastapi import APIRouter

if TYPE_CHECKING:
    from lanjie.sandbox.model import InterceptTask, Parcel
    from lanjie.sandbox.world import SandboxWorld

#: name (the URL prefix and the lanjie plugin it plays) → "module:class"
TWINS: Mapping[str, str] = {
    "sf": "lanjie.sandbox.sf:SFTwin",
    "zto": "lanjie.sandbox.zto:ZTOTwin",
    "jtexpress": "lanjie.sandbox.jtexpress:JTTwin",
    "sto": "lanjie.sandbox.sto:STOTwin",
    "yunda": "lanjie.sandbox.yunda:YundaTwin",
    "jd": "lanjie.sandbox.jd:JDTwin",
    "kdniao": "lanjie.sandbox.kdniao:KdniaoTwin",
    "ups": "lanjie.sandbox.ups:UPSTwin",
}


class Twin(Protocol):
    """A carrier's side of the sandbox."""

    name: ClassVar[str]
    #: The full credentials a lanjie account needs to talk to this twin's default test account.
    test_credentials: ClassVar[Mapping[str, str]]

    def __init__(self, world: SandboxWorld) -> None: ...

    def router(self) -> APIRouter:
        """The carrier's own paths, to be included under ``/<name>``."""
        ...

    def register_account(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        """Know another account; answer what the control API shows of it (no secrets)."""
        ...

    def on_tracking(self, parcel: Parcel) -> None:
        """A parcel got a new scan: push it to this carrier's subscribers."""
        ...

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """An intercept this twin accepted ended: report it the carrier's way."""
        ...


def load_twins() -> dict[str, type[Twin]]:
    """Every twin class by name (a twin module that fails to import is an error, not a gap)."""
    twins: dict[str, type[Twin]] = {}
    for name, target in TWINS.items():
        module_name, _, class_name = target.partition(":")
        twins[name] = getattr(importlib.import_module(module_name), class_name)
    return twins
