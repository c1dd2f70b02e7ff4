"""Yunda (韵达): tracking on Yunda's own open platform; intercepts go through Kuaidi100.

Documented (carrier-protocols.md §8 [mirror], §17) and followed exactly here: POST of a JSON body to
``https://openapi.yundaex.com/openapi-api/…`` with the headers ``app-key``, ``sign`` and ``req-time``
(milliseconds), where ``sign`` is the lower-case hex MD5 of the body exactly as sent + ``_`` +
appSecret; the track query ``{api}/outer/logictis/query`` (sic) with ``{"mailno": …}``; the parcel
statuses GOT, TRANSIT, SIGNED, RETURN, SIGNFAIL and the step actions ACCEPT … TRANSFER (mapped to
lanjie's statuses in ``codes`` per §19), each step with ``station``, ``station_name``,
``station_type``, ``next``, ``next_name``, ``next_city``, ``description``, ``signer``.

Yunda publishes no public intercept API, so this plugin only tracks: ``intercept_via = "kuaidi100"``
and every intercept operation raises NotSupported naming it.

*Sandbox choices* (Yunda does not publish them; lanjie's assumptions, shared with the sandbox twin
``lanjie.sandbox.yunda`` and kept in ``codes`` / ``wire`` / ``push`` so the real values drop in):

- The answer envelope ``{"result": bool, "code": str, "message": str, "data": …}`` and its codes:
  ``0000`` ok, ``1001`` missing field, ``1002`` bad sign, ``1003`` unknown or expired app-key,
  ``1004`` rate limited, ``1005`` body not JSON, ``2001`` no trace, ``2002`` already subscribed
  (accepted), ``9999`` system busy (retry later).
- The query answer's ``data`` = ``{mailno, status, steps}``, steps oldest first, times in Beijing
  time ``yyyy-MM-dd HH:mm:ss``.
- The subscription ``{api}/outer/logictis/subscribe`` (the path and ``orders`` from a third-party
  client) with a ``callback_url`` field naming where pushes go.
- The push: the same JSON as a query's ``data`` plus ``orderid``, the **full** history every time
  (so ``TrackingSnapshot.incremental`` is False), signed with the request recipe in the headers;
  acknowledged with ``{"result":true,"code":"0000","message":"成功"}``. Its de-duplication key is the
  waybill, the number of steps and the newest step's time, action and description.
- A parcel returned and signed for by the sender shows as a ``SIGNED`` step after a ``RETURN`` step
  (→ ``returned``); Yunda has no documented code for it.
- ``rate_limit_per_second`` = 10.
"""

from __future__ import annotations

from .adapter import DEFAULT_ENDPOINTS, Yunda
from .push import PUSH_ACK, PUSH_REJECT, reject_ack, verify
from .wire import dumps, sign

__all__ = ["DEFAULT_ENDPOINTS", "PUSH_ACK", "PUSH_REJECT", "Yunda", "dumps", "reject_ack", "sign", "verify"]
