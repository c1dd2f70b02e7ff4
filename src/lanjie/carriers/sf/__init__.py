"""SF Express (顺丰) on its own open platform, 丰桥: intercept, cancel, track and receive route pushes.

Documented (carrier-protocols.md §4, §17, §18) and followed exactly here: one gateway
``{api}/std/service`` taking a form of ``partnerID``, ``requestID`` (unique, ≤ 40 characters),
``serviceCode``, ``timestamp`` (ms), ``msgDigest`` and ``msgData`` (§4.1); msgDigest = Base64 of the raw
MD5 of the Java-URL-encoded ``msgData + timestamp + checkWord`` (§4.1, §17); the envelope
``{apiResultCode, apiErrorMsg, apiResponseID, apiResultData}`` with ``A1000`` = OK and ``apiResultData``
a JSON string ``{success, errorCode, errorMsg, msgData}`` with ``S0000`` = OK and ``8016`` = duplicate
(§4.2); EXP_RECE_WANTED_INTERCEPT's fields ``waybillNo``, ``serviceCode`` (1 转寄, 2 退回), ``role``,
``payMode``, ``monthlyCardNo``, ``newDestAddress`` (required for 1 and 2), ``cancel`` + ``cusId``, and its
answer ``cusId``/``amount`` (§4.4); the route push body ``{Body: {WaybillRoute: [...]}}``, incremental, de-duplicated
by route ``id``, acknowledged with ``{"return_code":"0000","return_msg":"成功"}``, and the opCodes 50, 30,
31, 130, 44, 80, 8000, 631 (§4.5); EXP_RECE_SEARCH_ROUTES's ``language``, ``trackingType``,
``trackingNumber``, ``methodType`` (the official SDK's sample, §23) answering ``routeResps[].routes[]``
(community SDKs).

*Sandbox choices* (not public; lanjie's assumptions, shared with the sandbox twin and kept in
``codes`` so real values drop in):

- ``apiResultCode`` besides A1000: A1001 missing or malformed form field, A1004 unknown/expired
  partnerID or a service the account may not call, A1006 bad msgDigest (both ``auth_failed``), A1005
  rate limited (``rate_limited``), A1099 system error (``CarrierUnavailable``).
- EXP_RECE_WANTED_INTERCEPT ``errorCode``: 8016 an intercept already under way (accepted,
  ``duplicate``, with the first cusId), 8001 bad parameter and 8002 missing/invalid newDestAddress
  (``CarrierRejected``), 8101 delivered, 8102 out for delivery, 8103 not picked up, 8104 already
  intercepted successfully (SF's once-per-waybill rule: a refusal), 8105 unknown waybill or not
  eligible; a cancel answers 8106 (no such cusId) or 8107 (already completed). ``amount`` is yuan
  (read as a decimal, kept as integer fen).
- ``newDestAddress`` carries lanjie's one-line address whole in ``address`` (with ``contact``,
  ``phone``, ``country: "CN"``); a return goes to ``request.return_address`` (or ``address``) when
  lanjie has one, else it is sent without and SF decides. The shop is always ``role`` 1 (sender);
  ``payMode`` follows ``request.payer`` (sender 1, recipient 2, third party 3, monthly account 4),
  with ``monthlyCardNo`` from the optional ``monthly_card_no`` credential for 3 and 4. A cancel names
  the command by ``cusId`` alone.
- ``checkPhoneNo`` (last 4 digits) on route queries and registrations when known.
- EXP_RECE_REGISTER_ROUTE's ``msgData``: ``{trackingType: "1", trackingNumber: [waybill],
  checkPhoneNo?, callbackUrl}``.
- Route pushes are a form of ``msgData`` + ``timestamp`` + ``msgDigest`` signed like a request (see
  ``push``); a push that fails verification is answered ``{"return_code":"1000", …}``.
- opCodes 9000 (label printed, waiting for pickup), 9080 (return signed for by the sender), 9001
  (redirected to the new address), 9002 (damaged), 9003 (lost).
- 10 requests per second per account.

Decisions of lanjie's own: there is no eligibility call, so ``precheck`` and ``query_intercept``
judge from the routes (a 631 or redirect route is a success, an 80 without one a miss); ``precheck``
reports no fee (SF quotes ``amount`` only in the intercept answer). A route push holding several
waybills yields the first waybill's routes (``Push`` holds one snapshot; the rest are logged).
"""

from __future__ import annotations

from .adapter import DEFAULT_ENDPOINTS, SF
from .push import PUSH_ACK, PUSH_REJECT, reject_ack, verify
from .wire import java_url_encode, msg_digest

__all__ = [
    "DEFAULT_ENDPOINTS",
    "PUSH_ACK",
    "PUSH_REJECT",
    "SF",
    "java_url_encode",
    "msg_digest",
    "reject_ack",
    "verify",
]
