"""Douyin's open API on the wire: the signed request, the business parameters, the answer envelope.

A call is ``POST {api}/{method with dots as slashes}`` whose body is exactly ``param_json`` (UTF-8,
keys sorted, no spaces, non-ASCII kept) and whose query string carries, in this order, ``app_key``,
``method``, ``access_token``, ``timestamp`` (Beijing ``YYYY-MM-DD HH:MM:SS``), ``v=2``,
``sign_method=hmac-sha256`` and ``sign`` = lower-case hex HMAC-SHA256 keyed with the app secret over
``secret + "app_key" + key + "method" + method + "param_json" + json + "timestamp" + t + "v2" + secret``
(sales-platforms.md §1.0; the wire decisions shared with the sandbox). The one ``param_json`` string is
both signed and sent.

The answer is ``{code, msg, sub_code, sub_msg, data, log_id}``; ``code`` 10000 is success, anything
else becomes ChannelRejected with the kind ``codes.rejection_kind`` gives.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lanjie.carriers.redact import MASK
from lanjie.channels.errors import ChannelRejected, RejectionKind

from . import codes

BEIJING = timezone(timedelta(hours=8), "CST")  # no daylight saving time since 1991
JSON_MEDIA_TYPE = "application/json"
API_VERSION = "2"
SIGN_METHOD = "hmac-sha256"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Query parameters kept out of the exchange records.
HIDDEN_QUERY = frozenset({"access_token", "sign"})

DETAIL = "afterSale.Detail"
OPERATE = "afterSale.operate"
TO_WAREHOUSE = "afterSale.returnGoodsToWareHouseSuccess"
SUBMIT_EVIDENCE = "afterSale.submitEvidence"

# afterSale/operate ``type`` codes (sales-platforms.md §1.3).
APPROVE_REFUND_ONLY_SHIPPED = 201  # 发货后同意仅退款
REJECT_REFUND_ONLY_SHIPPED = 202  # 发货后拒绝仅退款
APPROVE_RETURN_REFUND_RECEIVED = 111  # 退货退款: goods are back, agree the refund
EVIDENCE_IMAGE = 1  # operate evidence ``type``: 1 image, 2 video, 3 audio, 4 text
MAX_SUBMITTED_EVIDENCE = 4  # submitEvidence: "凭证，最多四张"


class PayloadError(ValueError):
    """A Douyin payload is not shaped as expected (each caller maps it to its own error)."""


# -- the signed request ------------------------------------------------------------------------------

def dumps(params: Mapping[str, Any]) -> str:
    """``param_json``: the one serialisation that is signed and sent."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def beijing_timestamp(at: datetime) -> str:
    """An aware time as Douyin's ``timestamp`` (Beijing wall clock)."""
    return at.astimezone(BEIJING).strftime(_TIME_FORMAT)


def sign(*, app_key: str, app_secret: str, method: str, param_json: str, timestamp: str) -> str:
    """The request signature: lower-case hex HMAC-SHA256(app_secret, secret + fields + secret)."""
    message = (f"{app_secret}app_key{app_key}method{method}param_json{param_json}"
               f"timestamp{timestamp}v{API_VERSION}{app_secret}")
    return hmac.new(app_secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def path_of(method: str) -> str:
    """``afterSale.operate`` → ``/afterSale/operate``."""
    return "/" + method.replace(".", "/")


def request_url(api: str, method: str, *, app_key: str, app_secret: str, access_token: str,
                param_json: str, at: datetime) -> str:
    """The full URL of a call, query string in the documented order, signature included."""
    timestamp = beijing_timestamp(at)
    query = {
        "app_key": app_key,
        "method": method,
        "access_token": access_token,
        "timestamp": timestamp,
        "v": API_VERSION,
        "sign_method": SIGN_METHOD,
        "sign": sign(app_key=app_key, app_secret=app_secret, method=method, param_json=param_json,
                     timestamp=timestamp),
    }
    return f"{api.rstrip('/')}{path_of(method)}?{urlencode(query)}"


def shown_url(url: str) -> str:
    """The URL as kept in the exchange records: the access token and the signature masked."""
    parts = urlsplit(url)
    query = [(name, MASK if name in HIDDEN_QUERY else value)
             for name, value in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


# -- business parameters -----------------------------------------------------------------------------

def lock_of(version: str) -> int:
    """The ``update_time`` lock from a case's version; a version that is not Unix seconds is not sent."""
    if not version.strip().isdigit():
        raise ChannelRejected("version", f"douyin update_time must be Unix seconds, got {version!r}",
                              RejectionKind.invalid)
    return int(version)


def detail_params(ref: str) -> dict[str, Any]:
    """``/afterSale/Detail``: the case without its negotiation record."""
    return {"after_sale_id": ref, "need_operation_record": False}


def operate_params(operation_type: int, item: Mapping[str, Any]) -> dict[str, Any]:
    """``/afterSale/operate`` with one item (a batch fails whole when one item fails)."""
    return {"type": operation_type, "items": [dict(item)]}


def approve_item(ref: str, version: str) -> dict[str, Any]:
    """One item to agree, locked to the version it was decided on."""
    return {"aftersale_id": ref, "update_time": lock_of(version)}


def reject_item(ref: str, version: str, *, reason_code: str, reason: str, evidence: Sequence[str]) -> dict[str, Any]:
    """One item to refuse: reason code, reason text (also the buyer-visible remark), image evidence."""
    if not reason_code.strip().lstrip("-").isdigit():
        raise ChannelRejected("reject_reason_code", f"douyin reject_reason_code must be a number, got {reason_code!r}",
                              RejectionKind.invalid)
    item: dict[str, Any] = {"aftersale_id": ref, "reject_reason_code": int(reason_code), "reason": reason,
                            "remark": reason, "update_time": lock_of(version)}
    if evidence:
        item["evidence"] = [{"type": EVIDENCE_IMAGE, "url": url} for url in evidence]
    return item


def to_warehouse_params(ref: str, received_at: datetime, *, waybill_no: str, company_code: str) -> dict[str, Any]:
    """``/afterSale/returnGoodsToWareHouseSuccess``: when the goods passed inspection, and the return waybill."""
    params: dict[str, Any] = {"aftersale_id": ref, "op_time": int(received_at.timestamp())}
    if waybill_no:
        params["tracking_no"] = waybill_no
    if company_code:
        params["logistics_company_code"] = company_code
    return params


def evidence_params(ref: str, *, text: str, evidence: Sequence[str]) -> dict[str, Any]:
    """``/afterSale/submitEvidence``: the SDK types ``aftersale_id`` as a number here (int64)."""
    if len(evidence) > MAX_SUBMITTED_EVIDENCE:
        raise ChannelRejected("evidence", f"douyin takes at most {MAX_SUBMITTED_EVIDENCE} evidence files, "
                              f"got {len(evidence)}", RejectionKind.invalid)
    params: dict[str, Any] = {"aftersale_id": int(ref) if ref.isdigit() else ref}
    if text:
        params["comment"] = text
    if evidence:
        params["evidence"] = list(evidence)
    return params


# -- the answer --------------------------------------------------------------------------------------

def int_of(item: Mapping[str, Any], name: str, *, default: int | None = 0) -> int:
    """An integer field (a number or a string of digits); ``default`` None makes it required."""
    value = item.get(name)
    if value is None or value == "":
        if default is None:
            raise PayloadError(f"{name} is missing")
        return default
    if isinstance(value, bool):
        raise PayloadError(f"{name} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise PayloadError(f"{name} is not a number: {value!r}")


def id_of(item: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    """An id field (Douyin's int64 ids, sent as numbers or strings) as text."""
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() == "":
        if value is None and not required:
            return ""
        raise PayloadError(f"{name} is missing" if value in (None, "") else f"{name} is not an id: {value!r}")
    return str(value).strip()


def text_of(item: Mapping[str, Any], name: str) -> str:
    """A text field ('' when absent)."""
    value = item.get(name)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise PayloadError(f"{name} is not text")
    return str(value)


def object_of(item: Mapping[str, Any], name: str, *, required: bool = False) -> Mapping[str, Any]:
    """A nested object ({} when absent and not required)."""
    value = item.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise PayloadError(f"{name} is missing" if value is None else f"{name} is not an object")
    return value


def list_of(item: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """A list of objects ([] when absent)."""
    value = item.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, Mapping) for entry in value):
        raise PayloadError(f"{name} is not a list of objects")
    return value


def unix_time(seconds: int) -> datetime | None:
    """Unix seconds as an aware UTC time; 0 (Douyin's "not set") is None."""
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def answer_data(method: str, answer: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``data`` of a successful answer, or ChannelRejected with the kind its codes mean."""
    code = int_of(answer, "code", default=None)
    if code != codes.SUCCESS:
        sub_code, message = text_of(answer, "sub_code"), text_of(answer, "sub_msg") or text_of(answer, "msg")
        kind = codes.rejection_kind(code, sub_code, message)
        raise ChannelRejected(sub_code or str(code), f"douyin {method}: {message}", kind)
    data = answer.get("data")
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise PayloadError("data is not an object")
    return data


def check_operated(data: Mapping[str, Any], ref: str) -> None:
    """An operate answer's per-item result: ``status_code`` other than 0 is a refusal."""
    for item in list_of(data, "items"):
        if id_of(item, "aftersale_id", required=False) not in ("", ref):
            continue
        status_code = int_of(item, "status_code")
        if status_code != 0:
            raise ChannelRejected(str(status_code), f"douyin {OPERATE}: {text_of(item, 'status_msg')}",
                                  RejectionKind.refused)
