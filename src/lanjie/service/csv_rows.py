"""Reading an after-sales spreadsheet into rows to import, and writing the per-row result file.

Platforms without an open after-sale API (Pinduoduo, Kuaishou, WeChat shops) let the merchant export
their after-sales as a spreadsheet; Excel saves it as CSV, often in GBK, with Chinese headers. This
module is pure (no database): the shop's time zone comes in as an argument, and a bad value becomes a
``RowError`` naming the column, never an exception. Only a file that cannot be read as a whole raises
``FileRefused``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from lanjie.domain.states import CaseType

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5_000
MAX_WAYBILLS = 20
MAX_FEN = 10**12
RESULT_COLUMNS = ("row", "aftersale_id", "status", "case_id", "field", "error")


class Platform(StrEnum):
    """Where the after-sale was exported from; it becomes the case's channel."""

    pdd = "pdd"  # 拼多多
    kuaishou = "kuaishou"  # 快手小店
    wechat = "wechat"  # 微信小店 / 视频号小店
    other = "other"


class FileRefused(Exception):
    """The file as a whole cannot be imported (nothing was written); ``too_large`` means a limit was hit."""

    def __init__(self, field: str, detail: str, *, too_large: bool = False) -> None:
        super().__init__(detail)
        self.field, self.detail, self.too_large = field, detail, too_large


@dataclass(frozen=True)
class ImportRow:
    """One after-sale of the file, every value checked."""

    line: int  # the file's line number, header = 1
    platform: Platform
    aftersale_id: str  # the platform's after-sale id: the case's channel_ref
    order_id: str
    type: CaseType
    refund_fen: int
    waybill_nos: tuple[str, ...] = ()
    paid_fen: int | None = None
    deadline_at: datetime | None = None
    reason: str = ""
    carrier: str = ""  # "kuaidi100:zto" or "zto"; "" when the row cannot register its parcels
    value_fen: int | None = None
    freight_fen: int | None = None


@dataclass(frozen=True)
class RowError:
    """A row that cannot be imported, and the column at fault."""

    line: int
    aftersale_id: str
    field: str
    error: str


@dataclass(frozen=True)
class ParsedFile:
    rows: list[ImportRow | RowError]
    ignored_columns: list[str]  # headers as written in the file


#: Canonical column → Chinese (and spare English) aliases. Money columns come as *_fen or *_yuan.
ALIASES: Mapping[str, tuple[str, ...]] = {
    "platform": ("平台", "渠道"),
    "aftersale_id": ("售后单号", "退款单号", "售后编号"),
    "order_id": ("订单号", "订单编号"),
    "type": ("售后类型", "退款类型"),
    "refund_fen": (),
    "refund_yuan": ("退款金额",),
    "paid_fen": (),
    "paid_yuan": ("实付金额",),
    "waybill_nos": ("waybill_no", "运单号", "快递单号", "物流单号"),
    "deadline": ("超时时间", "截止时间"),
    "reason": ("售后原因", "退款原因"),
    "carrier": (),
    "value_fen": (), "value_yuan": (),
    "freight_fen": (), "freight_yuan": (),
}
_COLUMN = {alias.lower(): name for name, aliases in ALIASES.items() for alias in (name, *aliases)}
_MONEY = ("refund", "paid", "value", "freight")
_UNIT = re.compile(r"^(.+?)\s*\((元|分|yuan|fen)\)$")

PLATFORM_ALIASES: Mapping[str, Platform] = {
    **{p.value: p for p in Platform}, "拼多多": Platform.pdd, "快手": Platform.kuaishou,
    "快手小店": Platform.kuaishou, "微信": Platform.wechat, "微信小店": Platform.wechat,
    "视频号": Platform.wechat, "视频号小店": Platform.wechat, "其他": Platform.other,
}
TYPE_ALIASES: Mapping[str, CaseType] = {
    **{t.value: t for t in CaseType}, "仅退款(已发货)": CaseType.refund_only_shipped,
    "已发货仅退款": CaseType.refund_only_shipped, "发货后仅退款": CaseType.refund_only_shipped,
    "退货退款": CaseType.return_refund, "未发货仅退款": CaseType.refund_only_unshipped,
    "仅退款(未发货)": CaseType.refund_only_unshipped, "换货": CaseType.exchange, "补寄": CaseType.resend,
}

_FULL_WIDTH = str.maketrans({"（": "(", "）": ")", "\u3000": " "})
_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")
_EXCEL_NUMBER = re.compile(r"^\d+(\.\d+)?[eE]\+\d+$")  # Excel turned a long id into 1.23457E+17
_WAYBILL = re.compile(r"^[A-Za-z0-9\-]{4,40}$")
_WAYBILL_SEPARATORS = re.compile(r"[;,/\s，；、]+")
_YUAN = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?$")
_LOCAL_TIME = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_file(data: bytes, *, platform: Platform | None, timezone: str) -> ParsedFile:
    """Every row of an after-sales export, checked; ``platform`` fills an empty or missing platform column."""
    zone = ZoneInfo(timezone)
    header, records = _records(decode(data))
    columns, ignored = _columns(header)
    _require(columns, has_default_platform=platform is not None)
    rows: list[ImportRow | RowError] = []
    first_line: dict[str, int] = {}
    for line, cells in records:
        values = {name: _clean(cells[i]) if i < len(cells) else "" for name, (i, _) in columns.items()}
        row = _row(line, values, {name: label for name, (_, label) in columns.items()}, platform, zone)
        if row.aftersale_id and row.aftersale_id in first_line:
            row = RowError(line, row.aftersale_id, "aftersale_id",
                           f"aftersale_id {row.aftersale_id} repeats line {first_line[row.aftersale_id]}")
        elif row.aftersale_id:
            first_line[row.aftersale_id] = line
        rows.append(row)
    return ParsedFile(rows, ignored)


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM) when it is valid UTF-8, else GB18030 (a superset of GBK)."""
    if len(data) > MAX_BYTES:
        raise FileRefused("file", f"the file is {len(data)} bytes; the limit is {MAX_BYTES} bytes (5 MB)",
                          too_large=True)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise FileRefused("file", "the file is neither UTF-8 nor GBK/GB18030 text; save it as CSV UTF-8") from None


def _records(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank data records with the line each starts on."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise FileRefused("file", "the file is empty")
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    records: list[tuple[int, list[str]]] = []
    try:
        start = 1
        for cells in reader:
            if any(_clean(c) for c in cells):  # Excel writes empty rows as ",,,,"
                if header is None:
                    header = cells
                elif len(records) == MAX_ROWS:
                    raise FileRefused("file", f"the file has more than {MAX_ROWS} rows; the limit is {MAX_ROWS} "
                                              f"rows per import: split it", too_large=True)
                else:
                    records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FileRefused("file", f"line {reader.line_num}: not readable as CSV ({exc})") from None
    if header is None:
        raise FileRefused("file", "the file is empty")
    return header, records


def _delimiter(text: str) -> str:
    """Comma, tab or semicolon, as csv.Sniffer reads the first lines; a comma when it cannot tell."""
    lines = [line for line in text.splitlines() if line.strip()][:20]
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters=",\t;").delimiter
    except csv.Error:
        return ","
    return found if found in lines[0] else ","


def _columns(header: list[str]) -> tuple[dict[str, tuple[int, str]], list[str]]:
    """Canonical column → (position, header as written); and the headers that name no column."""
    columns: dict[str, tuple[int, str]] = {}
    ignored: list[str] = []
    for i, label in enumerate(header):
        name = _column_name(label)
        if name is None:
            if _clean(label):
                ignored.append(_clean(label))
            continue
        if name in columns:
            raise FileRefused(name, f"columns {columns[name][1]!r} and {_clean(label)!r} both mean {name}: "
                                    f"keep one")
        columns[name] = (i, _clean(label))
    for money in _MONEY:
        if f"{money}_fen" in columns and f"{money}_yuan" in columns:
            raise FileRefused(f"{money}_yuan", f"give the {money} amount once: {money}_fen or {money}_yuan, not both")
    if not columns:
        raise FileRefused("header", "the first line names no known column: a header row is required (aftersale_id, "
                                    "order_id, type, refund_yuan, … or 售后单号, 订单号, 售后类型, 退款金额)")
    return columns, ignored


def _column_name(label: str) -> str | None:
    text = _clean(label).translate(_FULL_WIDTH).strip().lower()
    unit = _UNIT.match(text)
    if unit is None:
        return _COLUMN.get(text)
    name = _COLUMN.get(unit.group(1))
    if name is None or not name.endswith(("_fen", "_yuan")):
        return None
    return name.rsplit("_", 1)[0] + ("_fen" if unit.group(2) in ("分", "fen") else "_yuan")


def _require(columns: Mapping[str, object], *, has_default_platform: bool) -> None:
    required = ["aftersale_id", "order_id", "type"] + ([] if has_default_platform else ["platform"])
    for name in required:
        if name not in columns:
            also = "/".join(ALIASES[name])
            extra = " (or pass the platform: --platform / ?platform=)" if name == "platform" else ""
            raise FileRefused(name, f"missing column {name}" + (f" (or {also})" if also else "") + extra)
    if "refund_fen" not in columns and "refund_yuan" not in columns:
        raise FileRefused("refund_yuan", "missing column refund_yuan (or 退款金额) or refund_fen")


class _Bad(ValueError):
    def __init__(self, field: str, error: str) -> None:
        super().__init__(error)
        self.field, self.error = field, error


def _row(line: int, values: Mapping[str, str], labels: Mapping[str, str], default: Platform | None,
         zone: ZoneInfo) -> ImportRow | RowError:
    aftersale_id = values.get("aftersale_id", "")
    try:
        return ImportRow(
            line=line, platform=_platform(values.get("platform", ""), default),
            aftersale_id=_id(values, "aftersale_id"), order_id=_id(values, "order_id"), type=_type(values["type"]),
            refund_fen=_money(values, labels, "refund", required=True) or 0,
            paid_fen=_money(values, labels, "paid"), waybill_nos=_waybills(values.get("waybill_nos", "")),
            deadline_at=_deadline(values.get("deadline", ""), zone), reason=_reason(values.get("reason", "")),
            carrier=values.get("carrier", "").lower(), value_fen=_money(values, labels, "value"),
            freight_fen=_money(values, labels, "freight"))
    except _Bad as bad:
        return RowError(line, aftersale_id, bad.field, bad.error)


def _clean(cell: str) -> str:
    text = cell.replace("\u3000", " ").strip()
    if len(text) >= 3 and text.startswith('="') and text.endswith('"'):  # Excel's "keep as text" formula
        text = text[2:-1].strip()
    return text


def _platform(text: str, default: Platform | None) -> Platform:
    if not text:
        if default is None:
            raise _Bad("platform", "platform is empty: fill it in or pass the platform for the whole file")
        return default
    found = PLATFORM_ALIASES.get(text.lower())
    if found is None:
        raise _Bad("platform", f"platform {text!r} is not one of {', '.join(Platform)}")
    return found


def _id(values: Mapping[str, str], field: str) -> str:
    text = values[field]
    if not text:
        raise _Bad(field, f"{field} is empty")
    if _EXCEL_NUMBER.match(text):
        raise _Bad(field, f"{field} {text!r} was turned into a number by Excel: format the column as text "
                          f"before exporting")
    if not _ID.match(text):
        raise _Bad(field, f"{field} must be 1-128 characters without control characters")
    return text


def _type(text: str) -> CaseType:
    key = text.translate(_FULL_WIDTH).replace(" ", "").lower()
    found = TYPE_ALIASES.get(key)
    if found is not None:
        return found
    if key == "仅退款":
        raise _Bad("type", "type 仅退款 is ambiguous: write 已发货仅退款 or 未发货仅退款")
    raise _Bad("type", f"type {text!r} is not one of {', '.join(CaseType)} (or 已发货仅退款, 退货退款, 未发货仅退款, "
                       f"换货, 补寄)")


def _money(values: Mapping[str, str], labels: Mapping[str, str], money: str, *, required: bool = False) -> int | None:
    """The amount in fen from the row's ``{money}_fen`` or ``{money}_yuan`` column (None: not given)."""
    for unit in ("fen", "yuan"):
        field = f"{money}_{unit}"
        if field not in values:
            continue
        text = values[field]
        if not text:
            break
        fen = _fen(text, labels[field], field) if unit == "fen" else yuan_to_fen(text, labels[field], field)
        if fen > MAX_FEN:
            raise _Bad(field, f"{labels[field]}: {text} is more than the limit of {MAX_FEN} fen")
        if required and fen == 0:
            raise _Bad(field, f"{labels[field]}: the refund must be more than 0")
        return fen
    if required:
        field = "refund_fen" if "refund_fen" in values else "refund_yuan"
        raise _Bad(field, f"{labels[field]} is empty")
    return None


def _fen(text: str, label: str, field: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise _Bad(field, f"{label}: {text!r} is not a whole number of fen")
    return int(text)


def yuan_to_fen(text: str, label: str = "amount", field: str = "amount") -> int:
    """Exact fen of a yuan amount: "12.30", "12.3", "¥12.30", "1,234.50"; more than 2 decimals is refused."""
    plain = text.strip().removeprefix("¥").removeprefix("￥").removesuffix("元").strip()
    match = _YUAN.match(plain)
    if match is None:
        raise _Bad(field, f"{label}: {text!r} is not an amount in yuan such as 12.30")
    decimals = (match.group(2) or ".")[1:]
    if len(decimals) > 2:
        raise _Bad(field, f"{label}: {text!r} has more than 2 decimals")
    return int(Decimal(plain.replace(",", "")) * 100)


def _waybills(text: str) -> tuple[str, ...]:
    """The waybills of a cell, upper-cased as the API stores them, so ``zt700…`` finds the parcel ``ZT700…``."""
    waybills = tuple(dict.fromkeys(w.upper() for w in _WAYBILL_SEPARATORS.split(text) if w))
    for waybill in waybills:
        if _EXCEL_NUMBER.match(waybill):
            raise _Bad("waybill_nos", f"waybill {waybill!r} was turned into a number by Excel: format the column "
                                      f"as text before exporting")
        if not _WAYBILL.match(waybill):
            raise _Bad("waybill_nos", f"waybill {waybill!r} must be 4-40 letters, digits or '-'")
    if len(waybills) > MAX_WAYBILLS:
        raise _Bad("waybill_nos", f"{len(waybills)} waybills; at most {MAX_WAYBILLS} per after-sale")
    return waybills


def _deadline(text: str, zone: ZoneInfo) -> datetime | None:
    """ISO 8601, or "YYYY-MM-DD HH:MM[:SS]" (also with /) in the shop's time zone; stored in UTC."""
    if not text:
        return None
    local = _LOCAL_TIME.match(text)
    try:
        if local is not None:
            year, month, day, hour, minute, second = (int(part or 0) for part in local.groups())
            at = datetime(year, month, day, hour, minute, second)
        elif "T" in text or " " in text:
            at = datetime.fromisoformat(text)
        else:
            raise ValueError("no time of day")
    except ValueError:
        raise _Bad("deadline", f"deadline {text!r} is not a time such as 2026-11-27 18:00 (shop time, "
                               f"{zone.key}) or 2026-11-27T18:00:00+08:00") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    return at.astimezone(UTC)


def _reason(text: str) -> str:
    if "\x00" in text or len(text) > 500:
        raise _Bad("reason", "reason must be at most 500 characters, without NUL")
    return text


def result_csv(rows: Iterable[Mapping[str, object]]) -> bytes:
    """The result file: one line per input row, in input order; UTF-8 with a BOM so Excel reads it right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RESULT_COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in RESULT_COLUMNS])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
