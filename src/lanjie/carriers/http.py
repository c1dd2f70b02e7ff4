"""The HTTP plumbing every carrier adapter shares: send, classify transport failures, keep the exchange.

An adapter builds the exact bytes it signs and hands them here; this module never re-encodes a body.

- A failure before any byte was sent (connect refused, pool timeout) is ``CarrierUnavailable``:
  nothing reached the carrier, so a retry cannot do anything twice.
- Any other transport failure (read timeout, dropped connection) is ``CarrierTimeout``: the request
  may have arrived, and the caller must query before resubmitting.
- HTTP 5xx is ``CarrierUnavailable``; what 4xx means is the adapter's business (UPS answers its
  validation errors with 400).
- Every attempt is appended to the adapter's ``exchanges`` with secrets redacted, before any error
  is raised, so the case timeline shows the failed call too.
- The account's rate limiter (``CarrierAccount.limiter``) is awaited before each send, so requests
  respect the carrier's limit per account instead of collecting rate-limit refusals.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from lanjie.carriers import redact
from lanjie.carriers.base import Exchange
from lanjie.carriers.errors import CarrierTimeout, CarrierUnavailable

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
JSON_MEDIA_TYPE = "application/json;charset=utf-8"

# Transport failures that happen before any byte of the request is sent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
             httpx.UnsupportedProtocol)


def encode_form(fields: Mapping[str, str]) -> bytes:
    """A form body in the order given: UTF-8, percent-encoded, spaces as ``+`` (what carriers' SDKs send)."""
    return urlencode(fields, encoding="utf-8").encode("ascii")


class CarrierHttp:
    """Sends an adapter's requests and records them; one per adapter instance."""

    def __init__(self, plugin: str, client: httpx.AsyncClient, secrets: Iterable[str],
                 exchanges: list[Exchange], limiter: Callable[[], Awaitable[None]] | None = None) -> None:
        self.plugin, self._client, self._exchanges, self._limiter = plugin, client, exchanges, limiter
        self._secrets = [s for s in secrets if s]

    def add_secret(self, value: str) -> None:
        """A secret learned at run time (an OAuth token) that must never be stored."""
        if value:
            self._secrets.append(value)

    async def send(self, operation: str, method: str, url: str, *, content: bytes = b"",
                   headers: Mapping[str, str] | None = None, shown: str | None = None) -> httpx.Response:
        """Send exactly ``content``; ``shown`` is the redacted request text to keep (default: the body)."""
        headers = dict(headers or {})
        if self._limiter is not None:
            await self._limiter()
        request_text = shown if shown is not None else redact.redact_text(content.decode("utf-8", "replace"),
                                                                           self._secrets)
        extra = {name: value for name, value in headers.items() if name.lower() != "content-type"}
        if extra:  # HTTP-style header lines above the body (signature headers masked)
            lines = [f"{name}: {value}" for name, value in redact.redact_headers(extra, self._secrets).items()]
            request_text = "\n".join(lines) + "\n\n" + request_text
        started = time.perf_counter()
        try:
            response = await self._client.request(method, url, content=content or None, headers=headers)
        except _NOT_SENT as exc:
            self._record(operation, method, url, request_text, None, "", started, f"{type(exc).__name__}: {exc}")
            raise CarrierUnavailable(f"{self.plugin} {operation}: could not connect: {exc}") from exc
        except httpx.RequestError as exc:
            self._record(operation, method, url, request_text, None, "", started, f"{type(exc).__name__}: {exc}")
            raise CarrierTimeout(f"{self.plugin} {operation}: no answer: {exc}") from exc
        self._record(operation, method, url, request_text, response.status_code, response.text, started, "")
        if response.status_code >= 500:
            raise CarrierUnavailable(f"{self.plugin} {operation}: HTTP {response.status_code}")
        return response

    async def post_form(self, operation: str, url: str, fields: Mapping[str, str],
                        headers: Mapping[str, str] | None = None,
                        media_type: str = FORM_MEDIA_TYPE) -> httpx.Response:
        """POST form fields in the order given (UTF-8, ``+`` for spaces), kept decoded and redacted."""
        return await self.send(operation, "POST", url, content=encode_form(fields),
                               headers={"Content-Type": media_type, **(headers or {})},
                               shown=redact.redact_form(fields, self._secrets))

    def json_object(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        """The JSON object a carrier answered, or CarrierUnavailable naming what came instead."""
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise CarrierUnavailable(
                f"{self.plugin} {operation}: answer is not JSON (HTTP {response.status_code})") from exc
        if not isinstance(body, dict):
            raise CarrierUnavailable(f"{self.plugin} {operation}: answer is not a JSON object")
        return body

    def _record(self, operation: str, method: str, url: str, request_text: str, status_code: int | None,
                response_text: str, started: float, error: str) -> None:
        self._exchanges.append(Exchange(
            operation=operation, method=method, url=url, request_body=request_text, status_code=status_code,
            response_body=redact.redact_text(response_text, self._secrets),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            error=redact.redact_text(error, self._secrets),
        ))
