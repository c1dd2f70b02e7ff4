"""J&T Express China (极兔) on its open platform: trace subscription, trace query and trace pushes.

Documented (carrier-protocols.md §6, §17, §18; maxbetas/jtexpress) and followed exactly: the base
https://openapi.jtexpress.com.cn/webopenplatformapi; a form field ``bizContent`` (JSON) with the
headers ``apiAccount``, ``timestamp`` (milliseconds, not signed) and ``digest`` = Base64(raw MD5(
bizContent + privateKey)); a subscription names a ``backUrl`` for its pushes; pushes are a form
``bizContent`` with the same digest headers, one event each; the trace nodes ``1`` 快件揽收 … ``10``
快件签收, ``11`` 问题件, ``12`` 安检, ``13`` 其他, ``14`` 退件扫描.

*Sandbox choices* (not public; shared with the sandbox twin, kept in ``codes``/``wire``/``push`` so
real values drop in):

- the paths ``/api/trace/subscribe`` (bizContent ``{"id": apiAccount, "list": [{traceNode, waybillCode,
  backUrl}]}``) and ``/api/logistics/trace`` (bizContent ``{"billCodes"}``), as a third-party client
  uses them;
- the answer ``{code, msg, data}`` and its codes (``codes.ANSWER_CODES``: ``1`` success, ``145003030``
  bad digest, ``145003060`` rate limit …); a query's ``data`` is ``[{billCode, details: [...]}]``, the
  details naming their node by ``scanType`` (an unknown waybill: no details);
- which of nodes 2–9 mean at the destination (6) or out for delivery (5, 7, 8, 9);
- a push's ``bizContent`` is one trace item (``billCode``, ``traceNode``, ``scanType``, ``scanTime``,
  ``desc`` …), acknowledged with ``{"code":"1","msg":"success"}``; its de-duplication key is billCode +
  traceNode + scanTime.

J&T has no node for a return signed for by the sender: the return leg stays ``returning`` (node 14)
until the warehouse receives the parcel.

Interception: J&T publishes no intercept API, so lanjie intercepts J&T parcels through the shop's
Kuaidi100 account (``intercept_via = "kuaidi100"``); intercept, query_intercept, cancel_intercept and
precheck raise NotSupported here.
"""

from __future__ import annotations

from .adapter import DEFAULT_ENDPOINTS, JT
from .push import PUSH_ACK, PUSH_REJECT, reject_ack
from .wire import QUERY_PATH, SUBSCRIBE_PATH

__all__ = ["DEFAULT_ENDPOINTS", "JT", "PUSH_ACK", "PUSH_REJECT", "QUERY_PATH", "SUBSCRIBE_PATH", "reject_ack"]
