"""SF Express (丰桥) wire formats as the sandbox speaks them: the digest, the envelope, codes, routes.

Documented (carrier-protocols.md §4, §17, §18) and followed exactly: the gateway form
(``partnerID``, ``requestID``, ``serviceCode``, ``timestamp``, ``msgDigest``, ``msgData``); msgDigest =
Base64(raw MD5(Java URLEncoder(msgData + timestamp + checkWord))); the envelope ``{apiResultCode,
apiErrorMsg, apiResponseID, apiResultData}`` with ``apiResultData`` a JSON *string* ``{success,
errorCode, errorMsg, msgData}`` (A1000 / S0000 = OK, 8016 = duplicate); the route push body
``{"Body": {"WaybillRoute": [...]}}`` and its acknowledgement ``{"return_code":"0000","return_msg":"成功"}``;
the opCodes 50, 30, 31, 130, 44, 80, 631.

Not documented, so these are **lanjie's sandbox choices** (a real account may differ):

* ``apiResultCode``: A1001 a form field missing or malformed (requestID longer than 40 too), A1004
  unknown or expired partnerID or a serviceCode the sandbox does not serve, A1005 rate limited,
  A1006 msgDigest does not verify. Error envelopes carry ``apiResultData: null``.
* A reused requestID (same partnerID) is answered with the first answer, byte for byte, and does
  nothing again.
* EXP_RECE_WANTED_INTERCEPT: only serviceCode 1 (转寄) and 2 (退回) are simulated; ``role`` and
  ``payMode`` are required; ``newDestAddress`` needs ``contact``, ``phone`` and ``address``.
  ``errorCode`` 8001 bad parameter, 8002 bad newDestAddress, 8016 this account's intercept of the
  same kind is already under way (``msgData`` names its cusId), 8101 delivered, 8102 out for
  delivery, 8103 not picked up, 8104 already intercepted (once per waybill), 8105 unknown waybill
  or not eligible, 8106 cancel: no such cusId, 8107 cancel: already completed. A success answers
  ``{cusId, amount, freightAdditionInfoResp{interceptionDeptCode, transferFlg}}``, ``amount`` in yuan:
  12.35 for a return, 18.60 for a redirect. A cancel of an already cancelled cusId succeeds again.
* EXP_RECE_SEARCH_ROUTES: ``trackingType`` 1 (by waybill) only, 1–10 numbers; ``checkPhoneNo``, when
  sent, must be 4 digits (it is not matched: the sandbox's parcels and a shop's orders need not agree
  on phone numbers). The answer is ``{routeResps: [{mailNo, routes: [{acceptTime, acceptAddress,
  remark, opCode}]}]}``, oldest route first (the shape community SDKs read).
* EXP_RECE_REGISTER_ROUTE: ``msgData`` ``{trackingType: "1", trackingNumber: [...], checkPhoneNo?,
  callbackUrl}``; registering again replaces the URL. The first push carries every route so far.
* Route pushes: a form of ``msgData``, ``timestamp`` (sim ms) and ``msgDigest`` signed with the
  registering account's checkWord like a request; one waybill per push; each route's ``id`` is the
  waybill number plus its position (4 digits). Anything but ``return_code`` "0000" is a failure.
* opCodes: 9000 label printed, waiting for pickup; 631 for every scan of the return leg, 9080 return
  signed for by the sender, 9001 caught by a redirect, 9002 damaged, 9003 lost. An intercept that
  fails without moving the parcel leaves no route (SF reports outcomes only as routes).

All times on the wire are Beijing time (UTC+8) as ``yyyy-MM-dd HH:mm:ss``.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote_from_bytes

from lanjie.sandbox.model import Scan
from lanjie.sandbox.route import ScanCode
from lanjie.sandbox.wirefmt import dumps, json_answer, wire_time

SERVICE_INTERCEPT = "EXP_RECE_WANTED_INTERCEPT"
SERVICE_SEARCH_ROUTES = "EXP_RECE_SEARCH_ROUTES"
SERVICE_REGISTER_ROUTE = "EXP_RECE_REGISTER_ROUTE"
FORM_FIELDS = ("partnerID", "requestID", "serviceCode", "timestamp", "msgDigest", "msgData")
MAX_REQUEST_ID = 40


class ApiCode(StrEnum):
    """``apiResultCode`` (A1000 documented, the rest sandbox choices)."""

    ok = "A1000"
    missing = "A1001"  # 必传参数不可为空
    forbidden = "A1004"  # 无对应服务权限
    rate_limited = "A1005"  # 流量受控
    bad_digest = "A1006"  # 数字签名无效


class ErrorCode(StrEnum):
    """``apiResultData.errorCode`` (S0000 and 8016 documented, the rest sandbox choices)."""

    ok = "S0000"
    bad_parameter = "8001"
    bad_address = "8002"
    duplicate = "8016"
    already_delivered = "8101"
    out_for_delivery = "8102"
    not_picked_up = "8103"
    already_intercepted = "8104"
    not_supported = "8105"
    no_command = "8106"
    completed = "8107"


#: Intercept fee by ``serviceCode``, in fen (sandbox choice): 2 退回 12.35 yuan, 1 转寄 18.60 yuan.
FEES_FEN = {"2": 1235, "1": 1860}

#: SF opCode of each scan.
OP_CODES: dict[ScanCode, str] = {
    ScanCode.ordered: "9000",
    ScanCode.picked_up: "50",
    ScanCode.departed: "30",
    ScanCode.arrived_hub: "31",
    ScanCode.arrived_outlet: "130",
    ScanCode.out_for_delivery: "44",
    ScanCode.delivered: "80",
    ScanCode.intercepted: "631",
    ScanCode.return_departed: "631",
    ScanCode.return_arrived: "631",
    ScanCode.return_signed: "9080",
    ScanCode.redirected: "9001",
    ScanCode.damaged: "9002",
    ScanCode.lost: "9003",
}

#: The acknowledgement a subscriber answers a route push with.
ACK_BODY = {"return_code": "0000", "return_msg": "成功"}


def java_url_encode(raw: bytes) -> str:
    """What ``java.net.URLEncoder.encode(s, "UTF-8")`` makes of the text whose UTF-8 bytes are ``raw``.

    ``quote`` keeps ``~`` and encodes ``*``, Java the other way round; a space is ``+`` in Java.
    Neither ``%20`` nor ``~`` can come out of ``quote`` any other way (a ``%`` itself becomes ``%25``).
    """
    return quote_from_bytes(raw, safe="*").replace("%20", "+").replace("~", "%7E")


def digest(msg_data: str | bytes, timestamp: str | bytes, check_word: str) -> str:
    """The ``msgDigest`` of a request or push."""
    def raw(value: str | bytes) -> bytes:
        return value.encode("utf-8") if isinstance(value, str) else value

    encoded = java_url_encode(raw(msg_data) + raw(timestamp) + check_word.encode("utf-8"))
    return base64.b64encode(hashlib.md5(encoded.encode("ascii")).digest()).decode("ascii")


def millis(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def envelope(code: ApiCode, message: str, response_id: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """The outer answer; ``result`` (``{success, errorCode, errorMsg, msgData}``) goes in as a JSON string."""
    return {"apiResultCode": code.value, "apiErrorMsg": message, "apiResponseID": response_id,
            "apiResultData": dumps(result) if result is not None else None}


def result(code: ErrorCode, message: str, msg_data: Any = None) -> dict[str, Any]:
    return {"success": code is ErrorCode.ok, "errorCode": code.value, "errorMsg": message or None,
            "msgData": msg_data}


def yuan(fen: int) -> float:
    """An amount for ``amount``: yuan as a JSON number (12.35, whose repr is exact to the fen)."""
    return round(fen / 100, 2)


def route_item(scan: Scan) -> dict[str, str]:
    """A route of a query answer."""
    return {"acceptTime": wire_time(scan.at), "acceptAddress": scan.node.city.name, "remark": scan.context,
            "opCode": OP_CODES[scan.code]}


def push_item(waybill_no: str, position: int, scan: Scan) -> dict[str, str]:
    """A ``WaybillRoute`` of a push; ``position`` counts the waybill's routes from 1."""
    return {"id": f"{waybill_no}{position:04d}", "mailno": waybill_no, "orderid": "", **route_item(scan),
            "reasonCode": ""}


def is_ack(status_code: int, body: bytes) -> bool:
    """True for a 2xx answer whose JSON says ``return_code: "0000"``."""
    answer = json_answer(status_code, body)
    return answer is not None and answer.get("return_code") == "0000"
