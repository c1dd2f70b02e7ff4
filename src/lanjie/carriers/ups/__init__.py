"""UPS Delivery Intercept v2: a shipper stops, redirects or holds its own UPS parcel before delivery.

Documented by UPS and followed here (carrier-protocols.md §13; ``UPS-API/api-documentation``
``DeliveryIntercept.yaml`` and ``OAuthClientCredentials.yaml``):

- OAuth2 client credentials: ``POST {api}/security/v1/oauth/token``, form ``grant_type=client_credentials``,
  HTTP Basic ``client_id:client_secret``, optional ``x-merchant-id`` (the 6-character shipper number:
  ``account_number``, optional); the answer's ``access_token`` and ``expires_in`` (seconds, a string).
- Under ``{api}/api/deliveryintercept/v2``: ``GET /eligibility/intercept/{tn}``, ``POST /charges/{tn}``,
  ``POST /return/{tn}`` (RS, ``reasonForReturn``), ``POST /redirect/address/{tn}`` (AA,
  ``newDeliveryAddress``), ``POST /willcall/{tn}`` (WC), ``POST /cancel/{tn}``; headers ``Authorization:
  Bearer``, ``transId`` (3–14 characters, unique per request), ``transactionSrc``, ``inquiryType: U``,
  ``Content-Type``; success ``{transactionId, statusCode: "000", success: true}``; errors wrapped in
  ``response`` with ``errors[{code, message}]``: 400/710 validation, 401/605 address token.
- Tracking numbers: ``1Z`` + 16 upper-case letters or digits, checked before any call (refused as
  CarrierRejected 710, reason ``not_supported``).
- Fees are shipper-paid and charged only if the intercept completes (§13.2): Precheck(payer=sender).

*Sandbox choices* (lanjie's assumptions, kept in ``codes`` so real values drop in; the sandbox twin
``lanjie.sandbox.ups`` was written from this description, not from this code):

- Parcel refusals, answered HTTP 400 with ``errors[0].code``: 720 tracking number not found, 721 not
  picked up, 722 delivered, 723 an intercept of ours is pending (``response.transactionId`` names it:
  accepted as a duplicate), 724 already intercepted (completed, or another requester's), 725 not
  supported; on ``/cancel``: 726 nothing pending, 727 already completed (CancelAck(accepted=False)).
  401 with code 250002 (or none) is a refused OAuth token: fetched anew once and retried.
  HTTP 429 is a rate limit (CarrierRejected ``rate_limited``); 200 with ``success: false`` and error 500
  is CarrierUnavailable.
- ``task_id`` is the intercept answer's ``transactionId``.
- A redirect's eligibility: UPS lists no alternate-address feature, so RTS answers for it.
- ``/charges`` is sent without ``fromAddress``/``toAddress`` (lanjie does not hold the US addresses);
  the fee is ``totalCharge`` (``"21.00"`` → 2100 cents).
- ``requesterContactInfo`` comes from optional ``requester_name`` / ``requester_phone`` settings next
  to the credentials, else ``lanjie`` / ``+10000000000`` (a placeholder a real account must replace).
- ``reasonForReturn``: the request's reason when it is one of UPS's codes, else AM (cancelled order).
- A redirect address must read "street, [line 2,] city, ST 12345" (UPS: US and Puerto Rico only);
  anything else is refused as ``bad_address`` before any call.
- ``query_intercept``: UPS has no intercept-status query, so a pending intercept is one UPS would let
  us cancel or modify (eligibility), then the Track API (``GET {api}/api/track/v1/details/{tn}``, a real
  UPS API absent from the reference: every field read, ``status.type`` and ``status.code`` values
  included, is a sandbox choice) decides succeeded / failed (missed) / not_found, else indeterminate.
- Tokens are cached per (API base, client id) across adapter instances until ``expires_in`` − 60 s.
- ``rate_limit_per_second`` 5.

Claims (``file_claim`` / ``claim_status``): UPS publishes rules, not a claims API, so the wire is EasyPost's
claim model under UPS's conventions (``POST {api}/api/claims/v2/claims``, ``GET …/claims/{id}``), every
detail a sandbox choice listed in ``claims``; amounts are USD cents.

Not offered: return to the origin outlet (answered not_supported), tracking subscription and pushes
(``subscribe`` and ``parse_push`` raise NotSupported: lanjie polls ``query_tracking`` and ``claim_status``).
"""

from __future__ import annotations

from .adapter import DEFAULT_ENDPOINTS, UPS
from .auth import TOKENS, TokenCache
from .wire import basic_auth, dumps, minor_units, tracking_number

__all__ = ["DEFAULT_ENDPOINTS", "TOKENS", "UPS", "TokenCache", "basic_auth", "dumps", "minor_units",
           "tracking_number"]
