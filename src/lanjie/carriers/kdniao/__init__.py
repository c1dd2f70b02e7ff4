"""Kdniao (快递鸟): a tracking aggregator in front of most Chinese couriers; intercepts go through Kuaidi100.

Documented by third parties that match Kdniao's official SDK (carrier-protocols.md §3, §17, §18) and
followed exactly here: form POSTs (``application/x-www-form-urlencoded;charset=utf-8``) of
``RequestData`` (JSON), ``EBusinessID``, ``RequestType``, ``DataSign``, ``DataType=2`` to
``https://api.kdniao.com/Ebusiness/EbusinessOrderHandle.aspx`` (1002 real-time query) and
``https://api.kdniao.com/api/dist`` (1008 subscription); ``DataSign`` = Base64 of the lower-case hex
MD5 string of RequestData + AppKey, URL-encoded once by the form; the trace push (101: form
``RequestData`` + ``DataSign`` + ``RequestType``, body ``{EBusinessID, PushTime, Count, Data}``, full
history, up to 10 parcels) and its acknowledgement ``{EBusinessID, UpdateTime, Success: true,
Reason}``; the State and StateEx/Action codes (mapped in ``codes`` per §19); the result codes 100–105
and 401–405 by number; ShipperCodes (``codes.SHIPPER_CODES``); SF's ``CustomerName`` = phone tail.

Kdniao has no publicly documented intercept RequestType, so this plugin only tracks:
``intercept_via = "kuaidi100"`` and every intercept operation raises NotSupported naming it.

*Sandbox choices* (lanjie's assumptions, shared with the sandbox twin ``lanjie.sandbox.kdniao`` and
kept in ``codes`` / ``wire`` so the real values drop in):

- Answers carry the result code in ``ResultCode``; what each code does: 101 missing parameter,
  102 DataSign mismatch (auth_failed), 103 format error, 104 unknown or expired EBusinessID
  (auth_failed), 105 system busy (retry later), 401 rate limited, 402 ShipperCode not served
  (not_supported), 403 already subscribed (accepted), 404 no trace, 405 CustomerName required.
  An answer without ``ResultCode`` reads as 100 when ``Success`` is true and as 404 when it is a
  trace (``Traces`` present) with ``Success`` false.
- Pushes go to the subscription's ``Callback`` (lanjie puts its callback URL there), unless the
  account has a console push URL (real Kdniao pushes only there and echoes ``Callback``).
- One parcel per push in the twin; a real push may carry up to 10, and the adapter returns every one
  (``Push.tracking`` and ``Push.trackings``) under one identity. A parcel's key is LogisticCode + the newest trace's
  AcceptTime + AcceptStation (§18) + the number of traces (an intercept caught at a scan shares that
  scan's second, so time and text alone could call a new trace a duplicate).
- ``rate_limit_per_second`` = 10.
"""

from __future__ import annotations

from .adapter import DEFAULT_ENDPOINTS, Kdniao
from .push import PUSH_REJECT, ack_body, reject_ack, verify
from .wire import data_sign, dumps

__all__ = ["DEFAULT_ENDPOINTS", "PUSH_REJECT", "Kdniao", "ack_body", "data_sign", "dumps", "reject_ack", "verify"]
