"""UPS's OAuth client-credentials server as the sandbox plays it: clients, tokens, and checking them.

``POST /security/v1/oauth/token`` with HTTP Basic ``client_id:client_secret``, a form
``grant_type=client_credentials`` and an optional ``x-merchant-id`` (the client's shipper number)
answers ``{token_type, issued_at, client_id, access_token, scope, expires_in, refresh_count, status}``
(documented). Token lifetime and error codes are sandbox choices (see ``wire``). Tokens expire on the
sandbox clock, so advancing the world expires them as time would.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lanjie.sandbox.serving import WireAnswer, WireRequest
from lanjie.sandbox.ups import wire
from lanjie.sandbox.ups.wire import ErrorCode
from lanjie.sandbox.world import WorldError

if TYPE_CHECKING:
    from lanjie.sandbox.world import SandboxWorld


@dataclass
class Account:
    client_id: str
    client_secret: str
    account_number: str = ""  # the shipper number (x-merchant-id)
    expired: bool = False


@dataclass(frozen=True)
class Token:
    client_id: str
    expires_at: datetime


def _error(status: int, code: ErrorCode, message: str) -> WireAnswer:
    return WireAnswer({"response": {"errors": [{"code": code.value, "message": message}]}}, code.value, message,
                      status=status)


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, colon, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if colon else None


class OAuthServer:
    """Clients and the bearer tokens issued to them."""

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}

    def register(self, credentials: Mapping[str, str], expired: bool = False) -> dict[str, Any]:
        client_id, secret = credentials.get("client_id", ""), credentials.get("client_secret", "")
        if not client_id or not secret:
            raise WorldError(422, "credentials: client_id and client_secret are required")
        account = Account(client_id, secret, credentials.get("account_number", ""), expired)
        self.accounts[client_id] = account
        return {"client_id": client_id, "account_number": account.account_number, "expired": expired}

    def revoke(self, client_id: str | None = None) -> int:
        """Invalidate the tokens of one client (all when None), as UPS may at any time; returns how many."""
        gone = [value for value, token in self.tokens.items() if client_id in (None, token.client_id)]
        for value in gone:
            del self.tokens[value]
        return len(gone)

    def token(self, request: WireRequest) -> WireAnswer:
        """``POST /security/v1/oauth/token``."""
        pair = _basic(request.headers.get("authorization", ""))
        account = self.accounts.get(pair[0]) if pair else None
        if pair is None or account is None or not hmac.compare_digest(pair[1].encode(),
                                                                      account.client_secret.encode()):
            return _error(401, ErrorCode.bad_client, "ClientId or secret is invalid")
        if account.expired:
            return _error(401, ErrorCode.bad_client, "Client credentials have expired")
        merchant = request.headers.get("x-merchant-id", "")
        if merchant and account.account_number and merchant != account.account_number:
            return _error(401, ErrorCode.bad_client, "x-merchant-id does not belong to this client")
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _error(400, ErrorCode.bad_grant, "Body must be application/x-www-form-urlencoded")
        if request.fields.get("grant_type") != "client_credentials":
            return _error(400, ErrorCode.bad_grant, "Invalid or unsupported grant_type")
        now = self.world.clock.now()
        value = f"{self.world.rng.getrandbits(160):040x}"
        self.tokens[value] = Token(account.client_id, now + timedelta(seconds=wire.TOKEN_LIFETIME_SECONDS))
        body = {"token_type": "Bearer", "issued_at": str(int(now.timestamp() * 1000)),
                "client_id": account.client_id, "access_token": value, "scope": "",
                "expires_in": str(wire.TOKEN_LIFETIME_SECONDS), "refresh_count": "0", "status": "approved"}
        return WireAnswer(body, "200", "token issued")

    def bearer(self, request: WireRequest) -> Account | None:
        """The client a bearer token was issued to, None when it is unknown, revoked, expired or the client is."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        account = self.accounts.get(token.client_id) if token else None
        if token is None or account is None or account.expired or self.world.clock.now() >= token.expires_at:
            return None
        return account

    def client_of(self, request: WireRequest) -> str:
        """The client a request names, for the request log (read leniently: expired tokens too)."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            token = self.tokens.get(value.strip())
            return token.client_id if token else ""
        pair = _basic(header)
        return pair[0] if pair else ""
