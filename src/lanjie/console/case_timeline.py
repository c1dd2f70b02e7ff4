"""A case's timeline in words: one sentence per event type (platform messages, carrier requests and
answers, settlement, return scans, claims); a type without a sentence shows its name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lanjie.console.messages import Translator
from lanjie.console.vocab import status_label
from lanjie.console.web import Formats

#: ``aftersale.<what>_changed``: which vocabulary the old and new values are in (None: shown as they are).
_CHANGED = {"deadline": None, "arbitration": "arbitration", "type": "case_type", "amount": None,
            "platform_status": "platform_status", "platform_intercept": "platform_intercept"}


class Sentences:
    """Turns the case's events into sentences in the reader's language and the shop's time."""

    def __init__(self, t: Translator, formats: Formats, waybills: dict[str, str]) -> None:
        self.t, self.f = t, formats
        self.waybills = waybills  # intercept id → waybill number

    def __call__(self, event: dict[str, Any]) -> str:
        kind: str = event["type"]
        p: dict[str, Any] = event.get("payload") or {}
        family, _, name = kind.partition(".")
        special = self._special.get(kind)
        if special is not None:
            return special(self, event, p)
        if family == "aftersale" and name.endswith("_changed") and name[:-8] in _CHANGED:
            return self._changed(name[:-8], p)
        if family == "return" and self.t.has(f"vocab.return_status.{name}"):
            return self.t("timeline.return.status", waybill=p.get("waybill_no", ""),
                          status=status_label(self.t, "return_status", name))
        if family == "claim" and self.t.has(f"vocab.claim_status.{name}"):
            return self.t("timeline.claim.status", status=status_label(self.t, "claim_status", name))
        key = f"timeline.{kind}"
        if self.t.has(key):
            return self.t(key, **self._fields(event, p))
        return kind

    def _fields(self, event: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        """Every field a plain sentence may name, already in words."""
        t, f = self.t, self.f
        return {
            "waybill": p.get("waybill_no") or self.waybills.get(event.get("subject_id", ""), ""),
            "type": status_label(t, "intercept_type" if event["type"].startswith("intercept.") else "case_type",
                                 p.get("type")),
            "amount": f.money(p.get("amount_fen", p.get("refund_fen"))),
            "refund_no": p.get("refund_no", ""), "message": p.get("message", ""),
            "reason": status_label(t, "intercept_reason", p.get("reason")),
            "attempts": p.get("attempts", ""), "reference": p.get("reference", ""),
            "resolution": status_label(t, "resolution", p.get("resolution")),
            "fallback": status_label(t, "fallback", p.get("fallback")),
            "outcome": status_label(t, "clawback", p.get("outcome")),
            "deadline": f.when(p.get("deadline_at")), "eta": f.when(p.get("eta_at")),
        }

    def _changed(self, what: str, p: dict[str, Any]) -> str:
        vocabulary = _CHANGED[what]

        def word(value: Any) -> str:
            if what == "deadline":
                return self.f.when(value)
            if what == "amount":
                return self.f.money(value)
            return status_label(self.t, vocabulary, value) if vocabulary else str(value)

        return self.t("timeline.aftersale.changed", what=self.t(f"vocab.changed.{what}"),
                      old=word(p.get("from")), new=word(p.get("to")))

    def _status_changed(self, _: dict[str, Any], p: dict[str, Any]) -> str:
        return self.t("timeline.aftersale.status_changed", old=status_label(self.t, "case_status", p.get("from")),
                      new=status_label(self.t, "case_status", p.get("to")))

    def _tracking(self, _: dict[str, Any], p: dict[str, Any]) -> str:
        return self.t("timeline.shipment.tracking_updated", waybill=p.get("waybill_no", ""),
                      status=status_label(self.t, "tracking", p.get("to")))

    def _rule(self, _: dict[str, Any], p: dict[str, Any]) -> str:
        return self.t("timeline.aftersale.rule_decided", verdict=status_label(self.t, "verdict", p.get("verdict")),
                      rule=p.get("rule") or p.get("reason") or "—")

    def _platform_call(self, _: dict[str, Any], p: dict[str, Any]) -> str:
        outcome = self.t("timeline.call.ok") if p.get("ok") else self.t("timeline.call.failed",
                                                                        message=p.get("message", ""))
        return self.t("timeline.aftersale.platform_call", operation=p.get("operation", ""), outcome=outcome)

    def _claim_drafted(self, _: dict[str, Any], p: dict[str, Any]) -> str:
        return self.t("timeline.claim.drafted", type=status_label(self.t, "claim_type", p.get("type")),
                      amount=self.f.money(p.get("amount_fen")))

    def _reject(self, _: dict[str, Any], p: dict[str, Any]) -> str:
        return self.t("timeline.aftersale.reject_requested", reason=p.get("reason") or p.get("reason_code") or "—")

    _special: dict[str, Callable[[Sentences, dict[str, Any], dict[str, Any]], str]] = {
        "aftersale.status_changed": _status_changed,
        "shipment.tracking_updated": _tracking,
        "aftersale.rule_decided": _rule,
        "aftersale.platform_call": _platform_call,
        "aftersale.reject_requested": _reject,
        "claim.drafted": _claim_drafted,
    }
