"""One HTTP attempt at a delivery, and what its answer means for the next one.

The schedule is the Standard Webhooks one: the first attempt at once, then after 5 s, 5 min, 30 min,
2 h, 5 h, 10 h, 14 h, 20 h and 24 h — ten attempts over about three days — then the delivery has
failed. 2xx is success; ``410 Gone`` disables the endpoint; 429, 502 and 504 may ask for a later
retry with ``Retry-After``, honoured between the scheduled delay and one hour.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

import httpx

__all__ = [
    "MAX_ATTEMPTS",
    "RESPONSE_KEPT_BYTES",
    "RETRY_AFTER_CAP",
    "SCHEDULE",
    "Attempt",
    "Verdict",
    "judge",
    "next_delay",
    "retry_after_seconds",
    "send",
]

#: Delay before each automatic attempt; the first is immediate.
SCHEDULE: tuple[timedelta, ...] = tuple(timedelta(seconds=s) for s in (
    0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600))
MAX_ATTEMPTS = len(SCHEDULE)
#: A receiver's Retry-After may push a retry this far out, no further (unless the schedule waits longer).
RETRY_AFTER_CAP = timedelta(hours=1)
RESPONSE_KEPT_BYTES = 2048
_THROTTLING = frozenset({429, 502, 504})


class Verdict(StrEnum):
    delivered = "delivered"  # 2xx
    retry = "retry"  # anything else, while automatic attempts are left
    gone = "gone"  # 410: the receiver asked us to stop; the endpoint is disabled


@dataclass(frozen=True)
class Attempt:
    """What one HTTP attempt saw."""

    status_code: int | None  # None when no answer came
    duration_ms: int
    response_body: str  # the first 2 KB, decoded leniently
    error: str  # "" when an answer came
    retry_after: float | None = None  # seconds, from a throttling answer's Retry-After


def next_delay(automatic_attempts: int, retry_after: float | None = None) -> timedelta | None:
    """How long to wait after the ``automatic_attempts``-th automatic attempt failed; None = give up."""
    if automatic_attempts >= MAX_ATTEMPTS:
        return None
    scheduled = SCHEDULE[automatic_attempts]
    if retry_after is None:
        return scheduled
    # Never sooner than the schedule, never later than the cap (or the schedule, when it is longer).
    return max(scheduled, min(timedelta(seconds=retry_after), RETRY_AFTER_CAP))


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 10**7))
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - now).total_seconds())


def judge(attempt: Attempt) -> Verdict:
    """What an attempt's answer means."""
    if attempt.status_code is not None and 200 <= attempt.status_code < 300:
        return Verdict.delivered
    if attempt.status_code == 410:
        return Verdict.gone
    return Verdict.retry


async def send(http: httpx.AsyncClient, *, url: str, headers: dict[str, str], body: bytes, timeout: float,
               now: datetime) -> Attempt:
    """POST the body once, without following redirects; never raises for network trouble."""
    started = time.monotonic()
    request_headers = {**headers, "content-type": "application/json", "user-agent": "lanjie-webhooks/1"}
    try:
        # One budget for the whole exchange: httpx's own timeouts apply per read, and a receiver
        # dripping bytes could hold the attempt far longer.
        async with asyncio.timeout(timeout), http.stream(
                "POST", url, content=body, headers=request_headers, timeout=timeout,
                follow_redirects=False) as response:
            head = b""
            async for chunk in response.aiter_bytes():
                head += chunk
                if len(head) >= RESPONSE_KEPT_BYTES:
                    break  # the rest of a large answer is not read, let alone kept
    except (httpx.TimeoutException, TimeoutError):
        return Attempt(None, _ms(started), "", f"timed out after {timeout:g} s")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Attempt(None, _ms(started), "", f"{type(exc).__name__}: {exc}"[:500])
    retry_after = None
    if response.status_code in _THROTTLING:
        retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
    text = head[:RESPONSE_KEPT_BYTES].decode("utf-8", "replace")
    return Attempt(response.status_code, _ms(started), text, "", retry_after)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
