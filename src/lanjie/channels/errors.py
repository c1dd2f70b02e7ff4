"""Errors a sales-channel adapter raises.

    ChannelError
    ├── ChannelRejected      the platform answered with an error code; ``kind`` says what lanjie does next
    ├── NotSupported         the platform has no such operation (or none through its open API)
    ├── SignatureInvalid     an inbound message failed verification (or no secret is set)
    └── MalformedMessage     an inbound message could not be parsed

Transport failures are the shared HTTP seam's (``lanjie.carriers.http``): ``CarrierUnavailable``
(not sent or 5xx: safe to retry) and its subclass ``CarrierTimeout`` (may have arrived: re-read the
case before writing again). They are re-exported here so channel code names one module.
"""

from __future__ import annotations

from enum import StrEnum

from lanjie.carriers.errors import CarrierTimeout, CarrierUnavailable

__all__ = ["CarrierTimeout", "CarrierUnavailable", "ChannelError", "ChannelRejected", "MalformedMessage",
           "NotSupported", "RejectionKind", "SignatureInvalid"]


class ChannelError(Exception):
    """Base of every channel adapter error."""


class RejectionKind(StrEnum):
    """What a platform's error code means for lanjie's next step."""

    stale = "stale"  # the case changed (Douyin 20309541, a stale update_time / refund_version): re-read, decide again
    needs_person = "needs_person"  # only the back office can do it (Douyin 11001, Taobao SMS code): route to a person
    retry = "retry"  # the platform asks to try again later (Douyin 10002 empty result, -10006 hiccup)
    auth = "auth"  # credentials or signature refused: nothing works until the account is fixed
    invalid = "invalid"  # the request itself is wrong (bad parameter): a bug or bad data, not retried
    refused = "refused"  # the platform said no for a business reason (wrong case type, closed case)


class ChannelRejected(ChannelError):
    """The platform answered with an error code."""

    def __init__(self, code: str, message: str, kind: RejectionKind = RejectionKind.refused) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.kind = code, message, kind


class NotSupported(ChannelError):
    """The platform lacks this operation."""


class SignatureInvalid(ChannelError):
    """An inbound message's signature did not verify, or no secret is configured to verify it."""


class MalformedMessage(ChannelError):
    """An inbound message could not be parsed."""
