"""STO (申通) on its link gateway: trace subscription, trace query and trace pushes.

Documented (carrier-protocols.md §7, §17; a public PHP client) and followed exactly: form (or GET)
parameters ``api_name``, ``content`` (JSON), ``data_digest`` = Base64(raw MD5(content + secretKey)),
``from_appkey``, ``from_code``, ``to_appkey`` and ``to_code``.

*Sandbox choices* (STO publishes none of these; shared with the sandbox twin, kept in ``codes`` and
``wire`` so real values drop in):

- the gateway ``https://cloudinter-linkgatewayonline.sto.cn`` + ``/gateway/link.do``;
- the APIs ``STO_TRACE_QUERY_COMMON`` (content ``{"waybillNoList": […]}``, to ``sto_trace_query``) and
  ``STO_TRACE_PLATFORM_SUBSCRIBE`` (content ``{"waybillNo", "callbackUrl"}``, to ``sto_trace_platform``);
- the answer ``{success, errorCode, errorMsg, data}``, with ``data`` of a query = waybill → its trace
  items oldest first (``waybillNo``, ``scanType``, ``opTime``, ``memo``, ``opOrgName``, ``opOrgCityName``);
- the error codes of ``codes.ANSWER_CODES`` (``S01`` bad digest … ``B01`` no such waybill);
- the push: a form of ``api_name=STO_TRACE_PUSH``, ``content`` (one trace item) and ``data_digest``,
  one event per push, acknowledged with ``{"success":true}``; its de-duplication key is waybillNo +
  scanType + opTime;
- the scan types ``退回签收`` (return signed for) and ``转寄`` (redirected) next to STO's own names.

Interception: STO publishes no intercept API, so lanjie intercepts STO parcels through the shop's
Kuaidi100 account (``intercept_via = "kuaidi100"``); intercept, query_intercept, cancel_intercept and
precheck raise NotSupported here.
"""

from __future__ import annotations

from .adapter import DEFAULT_ENDPOINTS, STO
from .push import PUSH_ACK, PUSH_REJECT, reject_ack
from .wire import GATEWAY_PATH, QUERY, SUBSCRIBE

__all__ = ["DEFAULT_ENDPOINTS", "GATEWAY_PATH", "PUSH_ACK", "PUSH_REJECT", "QUERY", "STO", "SUBSCRIBE", "reject_ack"]
