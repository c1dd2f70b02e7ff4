"""UPS OAuth tokens, cached per account and shared by every adapter instance in the process.

lanjie builds a fresh adapter for each job, so a token kept on the adapter would be fetched again for
every call. The cache is keyed by (API base URL, client id) and holds a token until ``expires_in``
minus a safety margin. Tasks asking at the same time for a missing token wait on one lock (per event
loop), so a burst of calls fetches one token. Tokens live only in memory: never in the database,
never in an exchange (each adapter registers the token it uses as a secret of its ``CarrierHttp``).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

#: A token is used only while more than this is left of its lifetime (a call may take a while).
SAFETY_MARGIN = timedelta(seconds=60)

Key = tuple[str, str]  # (API base URL, client id)


@dataclass(frozen=True)
class CachedToken:
    value: str
    expires_at: datetime  # already less the safety margin


class TokenCache:
    """Bearer tokens by account; ``clear()`` forgets them all (tests, a rotated secret)."""

    def __init__(self, margin: timedelta = SAFETY_MARGIN) -> None:
        self.margin = margin
        self._tokens: dict[Key, CachedToken] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Key, asyncio.Lock]] = \
            weakref.WeakKeyDictionary()

    def get(self, key: Key, now: datetime) -> str | None:
        """The cached token, or None when there is none or it is (nearly) expired."""
        cached = self._tokens.get(key)
        if cached is None or now >= cached.expires_at:
            return None
        return cached.value

    def put(self, key: Key, token: str, now: datetime, expires_in: timedelta) -> None:
        """Keep ``token`` for ``expires_in`` less the margin; a lifetime shorter than the margin is not kept."""
        if expires_in > self.margin:
            self._tokens[key] = CachedToken(token, now + expires_in - self.margin)
        else:
            self._tokens.pop(key, None)

    def discard(self, key: Key, token: str) -> None:
        """Forget ``token`` (UPS refused it) unless another task has already replaced it."""
        cached = self._tokens.get(key)
        if cached is not None and cached.value == token:
            del self._tokens[key]

    def lock(self, key: Key) -> asyncio.Lock:
        """The lock fetches for ``key`` take on the running loop (locks cannot cross loops)."""
        loop = asyncio.get_running_loop()
        return self._locks.setdefault(loop, {}).setdefault(key, asyncio.Lock())

    def clear(self) -> None:
        self._tokens.clear()


#: The process-wide cache every UPS adapter uses unless given another.
TOKENS = TokenCache()
