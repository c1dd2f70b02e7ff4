"""The capability matrix: what each installed carrier plugin can do, for ``lanjie carriers`` and docs/carriers.md.

Built only from what the plugins declare (``lanjie.carriers.registry.describe``), so the table in the
docs is the installed code's own word; a test keeps docs/carriers.md equal to ``--markdown``.
"""

from __future__ import annotations

from typing import Any

from lanjie.carriers.base import Capability, CarrierInfo
from lanjie.domain.states import InterceptType

_TYPE_LABELS = {InterceptType.return_to_sender: "return to sender", InterceptType.return_to_outlet: "return to outlet",
                InterceptType.redirect: "redirect (改址)"}
_YES, _NO = "yes", "—"


def intercept_cell(info: CarrierInfo) -> str:
    if Capability.intercept in info.capabilities:
        return "native"
    return f"via {info.intercept_via}" if info.intercept_via else _NO


def as_dict(info: CarrierInfo) -> dict[str, Any]:
    """A plugin's row for ``--json``: plain values, sorted."""
    return {
        "name": info.name, "title": info.title,
        "couriers": sorted(info.couriers) if info.couriers is not None else None,
        "intercept": intercept_cell(info), "intercept_via": info.intercept_via,
        "intercept_types": sorted(info.intercept_types),
        "capabilities": sorted(info.capabilities),
        "credential_names": list(info.credential_names),
        "optional_credential_names": list(info.optional_credential_names),
        "rate_limit_per_second": info.rate_limit_per_second,
    }


def markdown(infos: list[CarrierInfo]) -> str:
    """The matrix as a Markdown table (one row per plugin)."""
    header = ["plugin", "couriers", "intercept", "types", "cancel", "precheck (eligibility, fee)",
              "intercept status", "subscribe", "push", "tracking query", "claims"]
    rows = [header, ["---"] * len(header)]
    for info in infos:
        def has(cap: Capability, caps: frozenset[Capability] = info.capabilities) -> str:
            return _YES if cap in caps else _NO

        types = ", ".join(_TYPE_LABELS[t] for t in InterceptType if t in info.intercept_types)
        if not types and info.intercept_via:
            types = f"those of {info.intercept_via}"
        rows.append([
            f"`{info.name}` {info.title}", "any" if info.couriers is None else ", ".join(sorted(info.couriers)),
            intercept_cell(info), types or _NO, has(Capability.cancel_intercept), has(Capability.precheck),
            has(Capability.query_intercept), has(Capability.subscribe), has(Capability.parse_push),
            has(Capability.query_tracking), has(Capability.file_claim),
        ])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows) + "\n"
