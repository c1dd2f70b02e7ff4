"""Auto-intercept rules: each condition, the service-hours wait, first-match and the evidence kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from lanjie.domain.autorules import (
    AutoRule,
    CaseFacts,
    Condition,
    ParcelFacts,
    ServiceHours,
    Verdict,
    decide,
)
from lanjie.domain.states import CaseType, Fallback, InterceptType, TrackingStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
ALL_TYPES = frozenset(InterceptType)
RULE = AutoRule(name="default")


def parcel(**changes: object) -> ParcelFacts:
    base = ParcelFacts(waybill_no="ZT0001", carrier="kuaidi100:zto", tracking_status=TrackingStatus.in_transit,
                       tracking_at=NOON, goods_fen=12_900, intercept_types=ALL_TYPES)
    return replace(base, **changes)  # type: ignore[arg-type]


def facts(*parcels: ParcelFacts, **changes: object) -> CaseFacts:
    base = CaseFacts(channel="douyin", type=CaseType.refund_only_shipped, refund_fen=12_900, paid_fen=12_900,
                     parcels=parcels or (parcel(),), requested_fen=12_900)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_full_refund_only_request_on_a_parcel_in_transit_is_intercepted() -> None:
    d = decide([RULE], facts(), NOON, SHANGHAI)
    assert (d.verdict, d.rule, d.reason, d.intercept_type, d.fallback) == (
        Verdict.intercept, "default", "", InterceptType.return_to_sender, Fallback.needs_person)
    assert [(c.condition, c.held, c.required) for c in d.checks] == [(c, True, True) for c in Condition]


@pytest.mark.parametrize(("changes", "parcel_changes", "reason", "detail"), [
    ({"type": CaseType.return_refund}, {}, Condition.refund_only_shipped, "type return_refund"),
    ({"refund_fen": 5_000}, {}, Condition.full_amount, "refund 5000 fen, paid 12900 fen"),
    ({"paid_fen": None, "refund_fen": 9_000}, {}, Condition.full_amount, "refund 9000 fen, goods value 12900 fen"),
    ({}, {"tracking_status": TrackingStatus.out_for_delivery}, Condition.in_transit, "ZT0001: out_for_delivery"),
    ({}, {"tracking_status": TrackingStatus.created}, Condition.in_transit, "ZT0001: not_picked_up"),
    ({}, {"tracking_at": None}, Condition.in_transit, "ZT0001: no scan yet"),
    ({}, {"goods_fen": 20_000}, Condition.not_shared, "goods 20000 fen in the parcel(s), requests on them 12900 fen"),
    ({}, {"intercept_types": frozenset({InterceptType.redirect})}, Condition.carrier_supports,
     "return_to_sender not offered for ZT0001"),
])
def test_each_failing_condition_skips_and_is_named_with_what_was_seen(
        changes: dict[str, object], parcel_changes: dict[str, object], reason: Condition, detail: str) -> None:
    d = decide([RULE], facts(parcel(**parcel_changes), **changes), NOON, SHANGHAI)
    assert (d.verdict, d.reason, d.wait_until) == (Verdict.skip, reason, None)
    failed = [(c.condition, c.detail) for c in d.checks if not c.held]
    assert failed[0] == (reason, detail)


def test_goods_of_the_parcel_another_request_covers_do_not_count_as_shared() -> None:
    d = decide([RULE], facts(parcel(goods_fen=20_000), requested_fen=20_000), NOON, SHANGHAI)
    assert d.verdict is Verdict.intercept


def test_outside_service_hours_the_intercept_waits_for_the_next_opening_in_shop_time() -> None:
    late = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    d = decide([RULE], facts(), late, SHANGHAI)
    assert (d.verdict, d.reason, d.wait_until) == (
        Verdict.wait, Condition.service_hours, datetime(2026, 11, 28, 1, 0, tzinfo=UTC))  # 09:00 next day
    early = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai: opens the same morning
    assert decide([RULE], facts(), early, SHANGHAI).wait_until == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def test_a_failing_condition_other_than_the_hour_wins_over_waiting() -> None:
    late = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    d = decide([RULE], facts(refund_fen=100), late, SHANGHAI)
    assert (d.verdict, d.reason) == (Verdict.skip, Condition.full_amount)


def test_a_condition_the_rule_does_not_require_is_still_checked_but_does_not_block() -> None:
    rule = AutoRule(name="night", conditions=frozenset(Condition) - {Condition.service_hours})
    d = decide([rule], facts(), datetime(2026, 11, 27, 14, 30, tzinfo=UTC), SHANGHAI)
    hours = next(c for c in d.checks if c.condition == Condition.service_hours)
    assert (d.verdict, hours.held, hours.required) == (Verdict.intercept, False, False)
    assert hours.detail == "22:30 CST, hours 09:00-21:00"


def test_the_fee_ceiling_refuses_a_quote_above_it_and_lets_an_unquoted_fee_pass() -> None:
    rule = AutoRule(name="cheap", fee_ceiling_fen=500)
    assert decide([rule], facts(parcel(fee_fen=800)), NOON, SHANGHAI).reason == Condition.fee_ceiling
    assert decide([rule], facts(parcel(fee_fen=500)), NOON, SHANGHAI).verdict is Verdict.intercept
    assert decide([rule], facts(parcel(fee_fen=None)), NOON, SHANGHAI).verdict is Verdict.intercept


def test_the_first_enabled_rule_for_the_channel_decides() -> None:
    rules = [AutoRule(name="off", enabled=False), AutoRule(name="taobao", channels=frozenset({"taobao"})),
             AutoRule(name="douyin", channels=frozenset({"douyin"}), intercept_type=InterceptType.return_to_outlet,
                      fallback=Fallback.refund_on_refusal)]
    d = decide(rules, facts(), NOON, SHANGHAI)
    assert (d.rule, d.intercept_type, d.fallback) == ("douyin", InterceptType.return_to_outlet,
                                                       Fallback.refund_on_refusal)
    assert decide(rules[:2], facts(), NOON, SHANGHAI) == decide([], facts(), NOON, SHANGHAI)
    assert decide([], facts(), NOON, SHANGHAI).reason == "no_rule"


def test_hours_across_midnight_and_all_day() -> None:
    night = ServiceHours(time(20, 0), time(2, 0))
    assert [night.contains(time(h)) for h in (19, 20, 23, 1, 2)] == [False, True, True, True, False]
    assert ServiceHours(time(0, 0), time(0, 0)).contains(time(3, 0))


def test_the_record_keeps_every_check_and_the_tracking_seen() -> None:
    f = facts()
    record = decide([RULE], f, NOON, SHANGHAI).record(f)
    assert record["seen"] == {"type": "refund_only_shipped", "refund_fen": 12_900, "paid_fen": 12_900,
                              "requested_fen": 12_900, "parcels": [{
                                  "waybill_no": "ZT0001", "carrier": "kuaidi100:zto", "tracking_status": "in_transit",
                                  "tracking_at": NOON.isoformat(), "goods_fen": 12_900, "fee_fen": None}]}
    assert [c["condition"] for c in record["checks"]] == list(Condition)
