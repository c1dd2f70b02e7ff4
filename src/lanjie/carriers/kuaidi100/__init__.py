"""Kuaidi100 (快递100): lanjie's default carrier, an aggregator in front of most Chinese couriers.

What is documented by Kuaidi100 (carrier-protocols.md §2, §17, §18) and followed exactly here:
``interceptOrder`` on ``{api}/label/order`` (sign = upper MD5 hex of param + t + key + secret), the
tracking subscription ``{poll}/poll`` and its ``returnCode``s, the real-time query
``{poll}/poll/query.do`` (sign = upper MD5 hex of param + key + customer), the tracking push
(form ``param`` + ``sign`` = MD5 hex of param + salt) and its acknowledgement, and the tracking states.
Every request names the courier by Kuaidi100's own company code (``zhongtong``, not lanjie's ``zto``):
``codes.COMPANY_CODES`` translates both ways, and a code it lacks passes through unchanged.

*Sandbox choices*: Kuaidi100 does not publish these, so they are lanjie's assumptions, shared with the
sandbox twin (``lanjie.sandbox``) and kept in the tables of ``codes`` so the real values drop in:

- ``interceptOrder`` answer codes besides 200: 30004 already intercepted and still in progress for
  this key (counted as accepted); 30001 already delivered, 30002 out for delivery, 30003 not picked
  up, 30005 not supported, 30006 intercepted before (the earlier intercept is over, or another key's:
  already_intercepted) (these refuse the intercept: ``InterceptAck(accepted=False)``); 400 bad request
  (``bad_address`` when the message names the address), 403 auth, 429 rate limit (these refuse the
  request itself and raise ``CarrierRejected``, as the errors module says, so a rate limit can be retried).
- The intercept result callback: same URL and form as tracking pushes, signed with the ``salt`` sent
  in the request; ``param`` = ``{taskId, kuaidicom, kuaidinum, status: SUCCESS|FAIL,
  code: 200|31001|31002|31003, message, time}``; 31001 = missed (delivered before the stop took effect),
  31003 = out for delivery when the stop took effect (the delivery goes on).
- Intercept status: no query exists, so ``query_intercept`` reads the real-time trace instead.
- Work orders (工单, ``file_claim`` / ``claim_status``): ``{api}/workorder/api/create`` is documented (form
  ``key``, ``sign``, ``t``, ``param``; ``secondType``, ``kuaidinum``, ``desc``, ``callBackUrl``, ``modityValue``;
  YTO, Yunda, J&T, STO and Deppon only); the type codes, the attachment shape, the status query
  ``workorder/api/detail``, the statuses and the result callback (``workorderId``) are sandbox choices,
  listed in ``workorder``.

Decisions of lanjie's own: a query answering "no result" (500) is a trace without events in status
``created``; subscribing and intercepting refuse to run without a salt (every push would then fail
verification); connection failures before anything was sent are ``CarrierUnavailable``, every other
transport failure ``CarrierTimeout`` (outcome unknown).
"""

from __future__ import annotations

from .adapter import DEFAULT_ENDPOINTS, Kuaidi100
from .push import PUSH_ACK, PUSH_REJECT, reject_ack, verify
from .wire import dumps, label_sign, push_sign, query_sign

__all__ = [
    "DEFAULT_ENDPOINTS",
    "PUSH_ACK",
    "PUSH_REJECT",
    "Kuaidi100",
    "dumps",
    "label_sign",
    "push_sign",
    "query_sign",
    "reject_ack",
    "verify",
]
