"""Errors a carrier adapter raises.

    CarrierError
    ├── CarrierUnavailable   5xx, connection refused: safe to retry later
    │   └── CarrierTimeout   no answer in time: the outcome is unknown, query before resubmitting
    ├── CarrierRejected      the carrier answered with an error code (bad request, auth, rate limit)
    ├── NotSupported         the carrier has no such capability
    ├── SignatureInvalid     an inbound push failed signature verification (or no secret is set)
    └── MalformedPush        an inbound push could not be parsed
"""

from __future__ import annotations


class CarrierError(Exception):
    """Base of every carrier adapter error."""


class CarrierUnavailable(CarrierError):
    """The carrier could not be reached or answered 5xx; retrying later is safe."""


class CarrierTimeout(CarrierUnavailable):
    """The request may or may not have reached the carrier."""


class CarrierRejected(CarrierError):
    """The carrier answered, with an error code."""

    def __init__(self, code: str, message: str, reason: str = "carrier_error") -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.reason = code, message, reason


class NotSupported(CarrierError):
    """The carrier lacks this capability."""


class SignatureInvalid(CarrierError):
    """An inbound push's signature did not verify, or no secret is configured to verify it."""


class MalformedPush(CarrierError):
    """An inbound push could not be parsed."""


def require_credentials(plugin: str, operation: str, credentials: dict[str, str], names: tuple[str, ...]) -> list[str]:
    """The named credentials' values, or CarrierRejected (``auth_failed``) naming every missing one.

    Refusing before any call keeps a half-configured account from sending unsigned requests (and,
    for a missing push secret, from subscribing to pushes it could never verify).
    """
    missing = [name for name in names if not credentials.get(name)]
    if missing:
        raise CarrierRejected("config", f"{plugin} {operation} needs credentials: {', '.join(missing)}",
                              reason="auth_failed")
    return [credentials[name] for name in names]
