"""The retry schedule, Retry-After bounds and what an answer means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lanjie.webhooks.delivery import (
    MAX_ATTEMPTS,
    SCHEDULE,
    Attempt,
    Verdict,
    judge,
    next_delay,
    retry_after_seconds,
)

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_the_schedule_is_the_standard_webhooks_one_over_about_three_days() -> None:
    assert [d.total_seconds() for d in SCHEDULE] == [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    assert MAX_ATTEMPTS == 10
    assert sum(SCHEDULE, timedelta()) == timedelta(days=3, hours=3, minutes=35, seconds=5)


def test_after_each_failed_attempt_the_next_waits_its_delay_and_after_the_tenth_we_give_up() -> None:
    assert [next_delay(n) for n in range(1, 10)] == list(SCHEDULE[1:])
    assert next_delay(10) is None
    assert next_delay(11) is None


@pytest.mark.parametrize(("attempts", "retry_after", "expected"), [
    (1, 60, timedelta(seconds=60)),  # longer than the 5 s scheduled: honoured
    (1, 1, timedelta(seconds=5)),  # shorter than the schedule: the schedule stands
    (1, 86400, timedelta(hours=1)),  # capped at one hour
    (2, 600, timedelta(minutes=10)),
    (5, 60, timedelta(hours=5)),  # the schedule already waits longer than the cap
    (5, 86400, timedelta(hours=5)),
    (10, 60, None),  # out of attempts: Retry-After does not buy another
])
def test_retry_after_is_honoured_between_the_schedule_and_one_hour(
        attempts: int, retry_after: float, expected: timedelta | None) -> None:
    assert next_delay(attempts, retry_after) == expected


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert retry_after_seconds("120", NOW) == 120.0
    assert retry_after_seconds(" 7 ", NOW) == 7.0
    assert retry_after_seconds("Fri, 27 Nov 2026 08:02:00 GMT", NOW) == 120.0
    assert retry_after_seconds("Fri, 27 Nov 2026 07:00:00 GMT", NOW) == 0.0
    assert [retry_after_seconds(v, NOW) for v in (None, "", "soon", "-5", "1.5")] == [None] * 5


@pytest.mark.parametrize(("status", "verdict"), [
    (200, Verdict.delivered), (204, Verdict.delivered), (299, Verdict.delivered), (410, Verdict.gone),
    (301, Verdict.retry), (400, Verdict.retry), (429, Verdict.retry), (500, Verdict.retry), (None, Verdict.retry),
])
def test_2xx_is_delivered_410_is_gone_and_anything_else_is_retried(status: int | None, verdict: Verdict) -> None:
    assert judge(Attempt(status, 10, "", "" if status else "timed out")) == verdict
