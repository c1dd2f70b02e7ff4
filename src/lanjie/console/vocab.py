"""The domain's words on a console page: statuses, reasons and types in the reader's language.

Any page may use these: ``status_label(t, "case_status", case.status)`` and ``badge(kind, value)`` (the
badge's colour class). The words themselves are ``vocab.<kind>.<value>`` in ``messages/cases.py``.
"""

from __future__ import annotations

from typing import Any

from lanjie.console.messages import CATALOGUE, Translator

#: Which values read as good, worrying or bad news (the rest are neutral).
_TONES: dict[str, dict[str, str]] = {
    "case_status": {"completed": "ok", "intercepted": "ok", "intercepting": "info", "refunding": "info",
                    "needs_attention": "bad", "awaiting_refusal": "warn", "rejected": "warn"},
    "intercept_status": {"succeeded": "ok", "submitted": "ok", "requested": "info", "cancel_requested": "info",
                         "refused": "bad", "failed": "bad", "unknown": "warn"},
    "tracking": {"delivered": "warn", "out_for_delivery": "warn", "returning": "info", "returned": "ok",
                 "lost": "bad", "damaged": "bad", "exception": "warn", "delivery_failed": "warn"},
    "refund_status": {"succeeded": "ok", "approved": "info", "pending": "info", "failed": "bad"},
    "return_status": {"received": "ok", "returned": "ok", "returning": "info", "stalled": "warn", "lost": "bad",
                      "damaged": "bad"},
    "claim_status": {"paid": "ok", "closed": "ok", "approved": "ok", "approved_partial": "warn", "rejected": "bad",
                     "waiting_on_documents": "warn", "filed": "info", "in_review": "info"},
}


def status_label(t: Translator, kind: str, value: Any) -> str:
    """``value`` of vocabulary ``kind`` in the reader's language; the raw value when the console has no word."""
    if value is None or value == "":
        return "—"
    key = f"vocab.{kind}.{value}"
    return t(key) if t.has(key) else str(value)


def badge(kind: str, value: Any) -> str:
    """The CSS classes of a badge showing ``value``: ``badge`` plus ok, warn, bad or info."""
    tone = _TONES.get(kind, {}).get(str(value), "")
    return f"badge {tone}".strip()


def carrier_label(t: Translator, carrier: str) -> str:
    """``kuaidi100:zto`` or ``zto`` as the courier's name (中通 / ZTO)."""
    return status_label(t, "carrier", carrier.rpartition(":")[2])


def labels(t: Translator, *kinds: str) -> dict[str, dict[str, str]]:
    """Whole vocabularies, for a page's script: ``{kind: {value: word}}``."""
    found: dict[str, dict[str, str]] = {kind: {} for kind in kinds}
    for key in CATALOGUE:
        prefix, _, rest = key.partition(".")
        kind, _, value = rest.partition(".")
        if prefix == "vocab" and kind in found:
            found[kind][value] = t(key)
    return found
