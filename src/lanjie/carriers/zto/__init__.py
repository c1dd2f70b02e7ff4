"""ZTO (中通) on its open platform (japi): track subscription, track query and track pushes.

Documented (carrier-protocols.md §5, §17, §18; YangLiCon/docs ``document/tepbridge/logistics/zto.md``)
and followed exactly: POST a JSON body to ``{api}/{api name}`` (production https://japi.zto.com) with
headers ``x-appKey`` and ``x-dataDigest`` = Base64(raw MD5(body exactly as sent + appSecret)); the
answer ``{result, message, status, statusCode}`` with ``SYS000``/``0000`` for success and the S2xx and
E4xx error codes (``codes.ANSWER_CODES``); ``zto.merchant.waybill.track.subsrcibe`` (sic) with
``billCode`` and ``mobilePhone`` (last 4 digits); ``zto.merchant.waybill.track.query``; the track push,
a form of ``data`` (one event: ``billCode``, ``action``, ``actionTime``, ``desc``, ``facilityName``,
``city`` …), ``data_digest`` = Base64(raw MD5(data + secret)), ``company_id``, ``msg_type=Traces``, one
event per push, with the actions GOT, DEPARTURE, ARRIVAL, DISPATCH, INBOUND, HANDOVERSCAN_SIGNED,
DEPARTURE_SIGNED and SIGNED.

*Sandbox choices* (not public; shared with the sandbox twin, kept in ``codes``/``wire``/``push`` so
real values drop in):

- the subscription carries the push URL in a ``callbackUrl`` field (real ZTO apps configure it in
  the console);
- the track query's ``result`` is the list of trace items, oldest first, each shaped like a push's
  ``data`` (an unknown waybill: an empty list);
- the actions ``RETURN`` (退回), ``RETURN_SIGNED`` (退回签收) and ``PROBLEM`` (问题件);
- the push acknowledgement ``{"status":true,"message":"success"}``;
- the push's secret is the app's ``app_secret``; the de-duplication key is billCode + action +
  actionTime (the push sample's time field).

Interception: ZTO publishes no intercept API, so lanjie intercepts ZTO parcels through the shop's
Kuaidi100 account (``intercept_via = "kuaidi100"``); intercept, query_intercept, cancel_intercept and
precheck raise NotSupported here.
"""

from __future__ import annotations

from .adapter import DEFAULT_ENDPOINTS, ZTO
from .push import PUSH_ACK, PUSH_REJECT, reject_ack
from .wire import QUERY_API, SUBSCRIBE_API

__all__ = ["DEFAULT_ENDPOINTS", "PUSH_ACK", "PUSH_REJECT", "QUERY_API", "SUBSCRIBE_API", "ZTO", "reject_ack"]
