"""The refund's ``attribute`` string: ``;``-separated ``key:value`` pairs, some values JSON with ``#3B`` for ``:``.

A sample (sales-platforms.md §2.3, ShopeX OMS)::

    ;clj_zero_second_refund:1;interceptItemListResult:[{"subBizOrderId"#3B"2345","logisticInterceptEnum"#3B
    "INTERCEPT_APPLY","autoInterceptAgree"#3B0}];

The colons inside a JSON value are escaped as ``#3B`` so that ``:`` only ever separates a key from its
value; a pair is split at its first colon and the escape undone in the value.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from lanjie.domain.states import ChannelInterceptStatus

from . import codes

log = logging.getLogger(__name__)

INTERCEPT_KEY = "interceptItemListResult"
COLON_ESCAPE = "#3B"


@dataclass(frozen=True)
class InterceptItem:
    """One sub-order's interception as the refund shows it."""

    sub_order_id: str  # subBizOrderId
    code: str  # logisticInterceptEnum, as written
    status: ChannelInterceptStatus | None  # None for a value lanjie does not know
    auto_intercept_agree: bool  # 零秒退快递拦截: the platform refunded at once and relies on the intercept


def parse(attribute: str) -> dict[str, str]:
    """The pairs of an attribute string, values unescaped; a piece without a colon is skipped."""
    pairs: dict[str, str] = {}
    for piece in attribute.split(";"):
        key, colon, value = piece.partition(":")
        if colon and key.strip():
            pairs[key.strip()] = value.replace(COLON_ESCAPE, ":")
    return pairs


def intercept_items(attribute: str) -> tuple[InterceptItem, ...]:
    """The ``interceptItemListResult`` items; a value that is not a JSON list is logged and read as none."""
    raw = parse(attribute).get(INTERCEPT_KEY, "")
    if not raw:
        return ()
    try:
        decoded = json.loads(raw)
    except ValueError:
        log.warning("taobao attribute %s is not JSON: %r", INTERCEPT_KEY, raw[:200])
        return ()
    if not isinstance(decoded, list):
        log.warning("taobao attribute %s is not a list: %r", INTERCEPT_KEY, raw[:200])
        return ()
    items: list[InterceptItem] = []
    for entry in decoded:
        if not isinstance(entry, dict):
            continue
        code = str(entry.get("logisticInterceptEnum") or "")
        items.append(InterceptItem(
            sub_order_id=str(entry.get("subBizOrderId") or ""),
            code=code,
            status=codes.intercept_status(code),
            auto_intercept_agree=str(entry.get("autoInterceptAgree")) in ("1", "True", "true"),
        ))
    return tuple(items)


def intercept_status(items: tuple[InterceptItem, ...], sub_order_id: str = "") -> ChannelInterceptStatus | None:
    """The intercept state of the refund's sub-order (``oid``), else of the first item; None when none shows."""
    chosen = next((item for item in items if sub_order_id and item.sub_order_id == sub_order_id), None)
    if chosen is None and items:
        chosen = items[0]
    return chosen.status if chosen is not None else None
