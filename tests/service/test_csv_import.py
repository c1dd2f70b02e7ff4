"""CSV import of after-sales: reading merchants' spreadsheet exports, and importing them row by row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.domain.model import Item, Party
from lanjie.domain.states import CaseType
from lanjie.service import commands, csv_import, shops
from lanjie.service.csv_import import UNKNOWN_RECIPIENT, UNKNOWN_SENDER, import_file
from lanjie.service.csv_rows import (
    MAX_BYTES,
    MAX_ROWS,
    FileRefused,
    ImportRow,
    ParsedFile,
    Platform,
    RowError,
    parse_file,
    result_csv,
)
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import tables as t

SHANGHAI = "Asia/Shanghai"
HEADER = "aftersale_id,order_id,type,refund_yuan,waybill_nos"


def parse(text: str, *, platform: Platform | None = Platform.pdd, timezone: str = SHANGHAI,
          encoding: str = "utf-8") -> ParsedFile:
    return parse_file(text.encode(encoding), platform=platform, timezone=timezone)


def one(text: str, **kwargs: Any) -> ImportRow | RowError:
    parsed = parse(text, **kwargs)
    assert len(parsed.rows) == 1
    return parsed.rows[0]


def refusal(data: bytes, platform: Platform | None = Platform.pdd) -> FileRefused:
    with pytest.raises(FileRefused) as refused:
        parse_file(data, platform=platform, timezone=SHANGHAI)
    return refused.value


# ---------------------------------------------------------------------------------------------- parsing
def test_chinese_headers_in_any_order_read_like_english_ones_and_unknown_columns_are_listed() -> None:
    chinese = parse("备注,退款金额,售后类型,订单号,售后单号,快递单号,超时时间,售后原因,实付金额,平台\n"
                    "急,12.30,已发货仅退款,O-1,AS-1,ZT1001,2026-11-27 18:00,不想要了,59.00,拼多多\n", platform=None)
    english = parse("platform,aftersale_id,order_id,type,refund_yuan,paid_yuan,waybill_nos,deadline,reason,shop note\n"
                    "pdd,AS-1,O-1,refund_only_shipped,12.30,59.00,ZT1001,2026-11-27 18:00,不想要了,急\n",
                    platform=None)
    expected = ImportRow(line=2, platform=Platform.pdd, aftersale_id="AS-1", order_id="O-1",
                         type=CaseType.refund_only_shipped, refund_fen=1230, waybill_nos=("ZT1001",), paid_fen=5900,
                         deadline_at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC), reason="不想要了")
    assert chinese.rows == english.rows == [expected]
    assert (chinese.ignored_columns, english.ignored_columns) == (["备注"], ["shop note"])


def test_headers_with_a_unit_pick_fen_or_yuan_and_full_width_brackets_count() -> None:
    assert one("售后单号,订单号,售后类型,退款金额（元）\nA,O,换货,12.5\n").refund_fen == 1250  # type: ignore[union-attr]
    assert one("售后单号,订单号,售后类型,退款金额(分)\nA,O,换货,1250\n").refund_fen == 1250  # type: ignore[union-attr]


@pytest.mark.parametrize(("cell", "fen"), [
    ("12.30", 1230), ("12.3", 1230), ("¥12.30", 1230), ("￥12.30", 1230), ("12.30元", 1230), ("19.99", 1999),
    ("0.01", 1), ("12", 1200), ('"1,234.56"', 123456), ("4294967.29", 429496729),
])
def test_yuan_amounts_become_exact_fen(cell: str, fen: int) -> None:
    assert one(f"{HEADER}\nA,O,exchange,{cell},\n") == ImportRow(
        line=2, platform=Platform.pdd, aftersale_id="A", order_id="O", type=CaseType.exchange, refund_fen=fen)


@pytest.mark.parametrize(("cell", "error"), [
    ("12.345", "refund_yuan: '12.345' has more than 2 decimals"),
    ("-5", "refund_yuan: '-5' is not an amount in yuan such as 12.30"),
    ("1e3", "refund_yuan: '1e3' is not an amount in yuan such as 12.30"),
    ("12,30", "refund_yuan: '12,30' is not an amount in yuan such as 12.30"),
    ("0", "refund_yuan: the refund must be more than 0"),
    ("", "refund_yuan is empty"),
])
def test_bad_yuan_amounts_fail_the_row_naming_the_column(cell: str, error: str) -> None:
    assert one(f'{HEADER}\nA,O,exchange,"{cell}",\n') == RowError(2, "A", "refund_yuan", error)


def test_fen_columns_take_whole_numbers_only() -> None:
    header = "aftersale_id,order_id,type,refund_fen,paid_fen"
    assert one(f"{header}\nA,O,exchange,1230,5900\n").paid_fen == 5900  # type: ignore[union-attr]
    assert one(f"{header}\nA,O,exchange,12.30,\n") == RowError(2, "A", "refund_fen",
                                                               "refund_fen: '12.30' is not a whole number of fen")
    assert one(f"{header}\nA,O,exchange,100,x\n") == RowError(2, "A", "paid_fen",
                                                              "paid_fen: 'x' is not a whole number of fen")


@pytest.mark.parametrize(("cell", "timezone", "utc"), [
    ("2026-11-27 18:00", SHANGHAI, datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
    ("2026/11/27 18:00:30", SHANGHAI, datetime(2026, 11, 27, 10, 0, 30, tzinfo=UTC)),
    ("2026-11-27T18:00:00", SHANGHAI, datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
    ("2026-11-27T18:00:00+08:00", "America/New_York", datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
    ("2026-11-27T10:00:00Z", SHANGHAI, datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
    ("2026-11-27 18:00", "America/New_York", datetime(2026, 11, 27, 23, 0, tzinfo=UTC)),
])
def test_deadlines_without_an_offset_are_in_the_shops_time_zone(cell: str, timezone: str, utc: datetime) -> None:
    row = one(f"aftersale_id,order_id,type,refund_fen,deadline\nA,O,exchange,100,{cell}\n", timezone=timezone)
    assert isinstance(row, ImportRow) and row.deadline_at == utc and row.deadline_at.tzinfo == UTC


@pytest.mark.parametrize("cell", ["2026-11-27", "2026-13-01 10:00", "tomorrow 18:00", "18:00"])
def test_a_deadline_that_is_not_a_time_fails_the_row_naming_deadline(cell: str) -> None:
    row = one(f"aftersale_id,order_id,type,refund_fen,deadline\nA,O,exchange,100,{cell}\n")
    assert row == RowError(2, "A", "deadline", f"deadline {cell!r} is not a time such as 2026-11-27 18:00 (shop time, "
                                               f"Asia/Shanghai) or 2026-11-27T18:00:00+08:00")


def test_a_gbk_file_from_excel_reads_like_utf8_with_or_without_bom() -> None:
    text = "售后单号,订单号,售后类型,退款金额,运单号,售后原因\r\nAS-1,O-1,退货退款,12.30,YT200001,质量问题\r\n"
    gbk = parse(text, encoding="gbk")
    assert gbk == parse(text) == parse_file(b"\xef\xbb\xbf" + text.encode(), platform=Platform.pdd, timezone=SHANGHAI)
    assert gbk.rows == [ImportRow(line=2, platform=Platform.pdd, aftersale_id="AS-1", order_id="O-1",
                                  type=CaseType.return_refund, refund_fen=1230, waybill_nos=("YT200001",),
                                  reason="质量问题")]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_comma_tab_and_semicolon_files_read_the_same(delimiter: str) -> None:
    text = "\n".join(delimiter.join(cells) for cells in [
        ["aftersale_id", "order_id", "type", "refund_yuan", "waybill_nos"],
        ["A", "O", "exchange", "1.50", "ZT1001 ZT1002"]]) + "\n"
    assert one(text) == ImportRow(line=2, platform=Platform.pdd, aftersale_id="A", order_id="O",
                                  type=CaseType.exchange, refund_fen=150, waybill_nos=("ZT1001", "ZT1002"))


def test_blank_lines_are_skipped_and_rows_keep_their_line_numbers() -> None:
    parsed = parse(f'\n{HEADER}\n\nA,O,exchange,1,\n,,,,\n"B",O,exchange,1,"ZT1001\nZT1002"\nC,O,exchange,1,\n')
    assert [(r.line, r.aftersale_id) for r in parsed.rows] == [(4, "A"), (6, "B"), (8, "C")]
    assert parsed.rows[1].waybill_nos == ("ZT1001", "ZT1002")  # type: ignore[union-attr]


def test_waybills_split_on_any_usual_separator_and_repeat_once() -> None:
    row = one(f'{HEADER}\nA,O,exchange,1,"ZT1001;ZT1002/ZT1003,ZT1004、ZT1001"\n')
    assert row.waybill_nos == ("ZT1001", "ZT1002", "ZT1003", "ZT1004")  # type: ignore[union-attr]


def test_waybills_are_upper_cased_as_the_api_stores_them_and_repeat_once() -> None:
    row = one(f'{HEADER}\nA,O,exchange,1,"zt1001; ZT1001;jdva0002"\n')
    assert row.waybill_nos == ("ZT1001", "JDVA0002")  # type: ignore[union-attr]


@pytest.mark.parametrize(("cells", "field", "error"), [
    ("A,O,仅退款,1,", "type", "type 仅退款 is ambiguous: write 已发货仅退款 or 未发货仅退款"),
    ("A,O,refund,1,", "type", "type 'refund' is not one of refund_only_shipped, refund_only_unshipped, return_refund, "
                              "exchange, resend (or 已发货仅退款, 退货退款, 未发货仅退款, 换货, 补寄)"),
    (",O,exchange,1,", "aftersale_id", "aftersale_id is empty"),
    ("1.23457E+17,O,exchange,1,", "aftersale_id", "aftersale_id '1.23457E+17' was turned into a number by Excel: "
                                                  "format the column as text before exporting"),
    ("A,,exchange,1,", "order_id", "order_id is empty"),
    ("A,O,exchange,1,ZT1001 1", "waybill_nos", "waybill '1' must be 4-40 letters, digits or '-'"),
    ("A,O,exchange,1,ZT_1001", "waybill_nos", "waybill 'ZT_1001' must be 4-40 letters, digits or '-'"),
    ("A,O,exchange,1," + " ".join(f"ZT{i:04}" for i in range(21)), "waybill_nos",
     "21 waybills; at most 20 per after-sale"),
])
def test_a_bad_value_fails_its_row_naming_the_column(cells: str, field: str, error: str) -> None:
    assert one(f"{HEADER}\n{cells}\n") == RowError(2, cells.split(",")[0], field, error)


def test_excel_text_formulas_around_long_ids_are_unwrapped() -> None:
    row = one(f'{HEADER}\n"=""2611270001234567""",="O-1",exchange,1,="ZT1001"\n')
    assert (row.aftersale_id, row.order_id, row.waybill_nos) == ("2611270001234567", "O-1", ("ZT1001",))  # type: ignore[union-attr]


def test_the_platform_column_wins_over_the_default_and_an_unknown_one_fails_the_row() -> None:
    parsed = parse("platform,aftersale_id,order_id,type,refund_fen\n快手,A,O,exchange,1\n,B,O,exchange,1\n"
                   "douyin,C,O,exchange,1\n", platform=Platform.wechat)
    assert [getattr(r, "platform", None) for r in parsed.rows] == [Platform.kuaishou, Platform.wechat, None]
    assert parsed.rows[2] == RowError(4, "C", "platform",
                                      "platform 'douyin' is not one of pdd, kuaishou, wechat, other")
    without_default = parse("platform,aftersale_id,order_id,type,refund_fen\n,B,O,exchange,1\n", platform=None)
    assert without_default.rows == [RowError(2, "B", "platform", "platform is empty: fill it in or pass the platform "
                                                                 "for the whole file")]


def test_a_repeated_aftersale_id_fails_the_second_row_naming_aftersale_id() -> None:
    parsed = parse(f"{HEADER}\nA,O,exchange,1,\nB,O,exchange,1,\nA,O2,exchange,2,\n")
    assert [type(r).__name__ for r in parsed.rows] == ["ImportRow", "ImportRow", "RowError"]
    assert parsed.rows[2] == RowError(4, "A", "aftersale_id", "aftersale_id A repeats line 2")


@pytest.mark.parametrize(("data", "field", "detail"), [
    (b"", "file", "the file is empty"),
    (b"\xef\xbb\xbf \r\n\r\n", "file", "the file is empty"),
    (b",,,\n,,,\n", "file", "the file is empty"),
    (b"A-1,O-1,exchange,1\n", "header", "the first line names no known column: a header row is required "
                                        "(aftersale_id, order_id, type, refund_yuan, … "
                                        "or 售后单号, 订单号, 售后类型, 退款金额)"),
    (b"aftersale_id,type,refund_fen\nA,exchange,1\n", "order_id", "missing column order_id (or 订单号/订单编号)"),
    (b"aftersale_id,order_id,type\nA,O,exchange\n", "refund_yuan",
     "missing column refund_yuan (or 退款金额) or refund_fen"),
    (b"aftersale_id,order_id,type,refund_fen,refund_yuan\n", "refund_yuan",
     "give the refund amount once: refund_fen or refund_yuan, not both"),
    ("售后单号,退款单号,订单号,售后类型,退款金额\n".encode(), "aftersale_id",
     "columns '售后单号' and '退款单号' both mean aftersale_id: keep one"),
    (b"\x81 aftersale_id", "file", "the file is neither UTF-8 nor GBK/GB18030 text; save it as CSV UTF-8"),
])
def test_a_file_that_cannot_be_read_as_a_whole_is_refused_naming_why(data: bytes, field: str, detail: str) -> None:
    refused = refusal(data)
    assert (refused.field, refused.detail, refused.too_large) == (field, detail, False)


def test_a_missing_platform_column_is_refused_only_without_a_default() -> None:
    refused = refusal(b"aftersale_id,order_id,type,refund_fen\n", platform=None)
    assert (refused.field, refused.detail) == ("platform", "missing column platform (or 平台/渠道) (or pass the "
                                                           "platform: --platform / ?platform=)")


def test_more_rows_or_bytes_than_the_limits_are_refused_as_too_large() -> None:
    rows = "".join(f"A{i},O,exchange,1,\n" for i in range(MAX_ROWS))
    assert len(parse(f"{HEADER}\n{rows}").rows) == MAX_ROWS
    too_many = refusal(f"{HEADER}\n{rows}A-last,O,exchange,1,\n".encode())
    assert (too_many.too_large, too_many.detail) == (
        True, "the file has more than 5000 rows; the limit is 5000 rows per import: split it")
    too_big = refusal(HEADER.encode() + b"\n" + b" " * MAX_BYTES)
    assert (too_big.too_large, too_big.detail) == (
        True, f"the file is {MAX_BYTES + len(HEADER) + 1} bytes; the limit is 5242880 bytes (5 MB)")


def test_the_result_file_is_utf8_with_bom_one_line_per_row_in_order() -> None:
    data = result_csv([
        {"row": 2, "aftersale_id": "A", "status": "created", "case_id": "as_1", "field": None, "error": None},
        {"row": 3, "aftersale_id": "B,1", "status": "failed", "case_id": None, "field": "refund_yuan",
         "error": "退款金额: '12.345' has more than 2 decimals"},
    ])
    assert data == ("\ufeffrow,aftersale_id,status,case_id,field,error\r\n"
                    "2,A,created,as_1,,\r\n"
                    "3,\"B,1\",failed,,refund_yuan,退款金额: '12.345' has more than 2 decimals\r\n").encode()


# ---------------------------------------------------------------------------------------------- import
PARTY = Party("Warehouse", "02160000000", "Hangzhou 1")


@pytest.fixture
def shop(engine: sa.Engine) -> str:
    return _shop(engine, "Shop A")


def _shop(engine: sa.Engine, name: str) -> str:
    created, _ = shops.create_shop(engine, name)
    with engine.begin() as conn:
        shops.upsert_carrier_account(conn, created.id, "kuaidi100", {"key": "k", "customer": "c"})
    return created.id


def _ship(engine: sa.Engine, shop_id: str, waybill_no: str, order_id: str) -> None:
    with UnitOfWork(engine, utcnow()) as uow:
        commands.register_shipment(uow, shop_id, commands.NewShipment(
            carrier="kuaidi100", carrier_code="zto", waybill_no=waybill_no, order_id=order_id,
            items=[Item("TEE", "tee", 1, 5900)], value_fen=5900, freight_fen=1200, sender=PARTY, recipient=PARTY))
        uow.commit()


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {tb.name: conn.execute(sa.select(sa.func.count()).select_from(tb)).scalar_one()
                for tb in (t.aftersales, t.aftersale_parcels, t.shipments, t.events, t.jobs)}


def _cases(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(
            t.aftersales.c.channel, t.aftersales.c.channel_ref, t.aftersales.c.order_id, t.aftersales.c.type,
            t.aftersales.c.refund_fen, t.aftersales.c.reason).order_by(t.aftersales.c.channel_ref))]


def test_each_row_opens_a_case_on_the_platform_channel_with_the_aftersale_id_as_ref(engine: sa.Engine,
                                                                                     shop: str) -> None:
    _ship(engine, shop, "ZT1001", "O-1")
    data = ("售后单号,订单号,售后类型,退款金额,实付金额,运单号,超时时间,售后原因\n"
            "AS-1,O-1,已发货仅退款,59.00,59.00,ZT1001,2026-11-27 18:00,不想要了\n"
            "AS-2,O-2,未发货仅退款,10,,,,\n").encode("gbk")
    report = import_file(engine, shop, data, platform=Platform.pdd)
    assert report.summary == {"rows": 2, "created": 2, "exists": 0, "failed": 0, "ignored_columns": []}
    assert [(r["row"], r["aftersale_id"], r["status"], r["field"], r["error"]) for r in report.rows] == [
        (2, "AS-1", "created", None, None), (3, "AS-2", "created", None, None)]
    assert _cases(engine) == [("pdd", "AS-1", "O-1", "refund_only_shipped", 5900, "不想要了"),
                              ("pdd", "AS-2", "O-2", "refund_only_unshipped", 1000, "")]
    with engine.connect() as conn:
        assert conn.execute(sa.select(t.aftersales.c.paid_fen, t.aftersales.c.deadline_at).order_by(
            t.aftersales.c.channel_ref)).all() == [(5900, datetime(2026, 11, 27, 10, 0, tzinfo=UTC)), (None, None)]
        ids = dict(conn.execute(sa.select(t.aftersales.c.channel_ref, t.aftersales.c.id)).all())
        created = sorted(conn.execute(sa.select(t.events.c.aftersale_id).where(
            t.events.c.type == "aftersale.created")).scalars())
    assert [r["case_id"] for r in report.rows] == [ids["AS-1"], ids["AS-2"]]
    assert created == sorted(ids.values())


def test_a_failing_row_writes_nothing_and_the_rows_around_it_stand(engine: sa.Engine, shop: str) -> None:
    _ship(engine, shop, "ZT2001", "O-other")
    before = _counts(engine)
    # Row 3 registers ZT2002 from its carrier column, then fails on ZT2001 (another order's parcel):
    # the parcel it registered, its event and its tracking job must go with it.
    data = (f"{HEADER},carrier\nAS-1,O-1,return_refund,1,,\nAS-2,O-2,refund_only_shipped,1,ZT2002 ZT2001,zto\n"
            f"AS-3,O-3,return_refund,1,,\n").encode()
    report = import_file(engine, shop, data, platform=Platform.kuaishou)
    assert [(r["aftersale_id"], r["status"], r["field"], r["error"]) for r in report.rows] == [
        ("AS-1", "created", None, None),
        ("AS-2", "failed", "waybill_nos", "waybill ZT2001 belongs to order O-other, not O-2"),
        ("AS-3", "created", None, None)]
    after = _counts(engine)
    assert {name: after[name] - before[name] for name in after} == {
        "aftersales": 2, "aftersale_parcels": 0, "shipments": 0, "events": 2, "jobs": 0}
    assert [row[1] for row in _cases(engine)] == ["AS-1", "AS-3"]


def test_importing_the_same_file_again_reports_exists_and_writes_nothing(engine: sa.Engine, shop: str) -> None:
    data = f"{HEADER}\nAS-1,O-1,return_refund,1,\nAS-2,O-2,return_refund,0,\n".encode()
    first = import_file(engine, shop, data, platform=Platform.wechat)
    before = _counts(engine)
    again = import_file(engine, shop, data, platform=Platform.wechat)
    assert [(r["status"], r["case_id"]) for r in again.rows] == [
        ("exists", first.rows[0]["case_id"]), ("failed", None)]
    assert again.summary == {"rows": 2, "created": 0, "exists": 1, "failed": 1, "ignored_columns": []}
    assert _counts(engine) == before
    # The same after-sale id on another platform is another after-sale.
    other = import_file(engine, shop, data, platform=Platform.pdd)
    assert other.rows[0]["status"] == "created" and other.rows[0]["case_id"] != first.rows[0]["case_id"]


def test_an_unregistered_waybill_without_a_carrier_column_fails_naming_waybill_nos(engine: sa.Engine,
                                                                                   shop: str) -> None:
    report = import_file(engine, shop, f"{HEADER}\nAS-1,O-1,refund_only_shipped,1,ZT3001\n".encode(),
                         platform=Platform.pdd)
    assert [(r["status"], r["field"], r["error"]) for r in report.rows] == [
        ("failed", "waybill_nos", "waybill ZT3001 is not registered: register it first (POST /v1/shipments) or "
                                  "give the carrier column")]
    assert _counts(engine)["aftersales"] == 0


def test_the_carrier_column_registers_unknown_parcels_with_marked_placeholders(engine: sa.Engine,
                                                                               shop: str) -> None:
    _ship(engine, shop, "ZT4001", "O-1")
    data = (f"{HEADER},carrier,value_yuan,freight_fen\n"
            f"AS-1,O-1,refund_only_shipped,59.00,ZT4001 ZT4002 ZT4003,kuaidi100:zto,100.01,800\n").encode()
    report = import_file(engine, shop, data, platform=Platform.pdd)
    assert report.rows[0]["status"] == "created"
    with UnitOfWork(engine, utcnow()) as uow:
        two, three = (uow.shipment_by_waybill(shop, w) for w in ("ZT4002", "ZT4003"))
        case = commands.load_case(uow, shop, report.rows[0]["case_id"])
    assert two is not None and three is not None
    assert (two.carrier, two.carrier_code, two.order_id, two.value_fen, two.freight_fen) == (
        "kuaidi100", "zto", "O-1", 5001, 800)
    assert two.items == [Item(sku="O-1", name="imported", qty=1, price_fen=5001)]
    assert (three.value_fen, three.freight_fen, three.items[0].price_fen) == (5000, 0, 5000)
    assert (two.sender, two.recipient) == (UNKNOWN_SENDER, UNKNOWN_RECIPIENT)
    assert len(case.shipment_ids) == 3
    with engine.connect() as conn:
        jobs = conn.execute(sa.select(sa.func.count()).select_from(t.jobs).where(
            t.jobs.c.kind == commands.SUBSCRIBE_TRACKING)).scalar_one()
    assert jobs == 3  # ZT4001's own, and one for each parcel the import registered


@pytest.mark.parametrize(("carrier", "error"), [
    ("nope:zto", "carrier 'nope:zto': no carrier plugin named 'nope' is installed"),
    ("Z!", "carrier 'z!': courier code 'z!' must be 2-20 lower-case letters or digits"),
    ("sf:sf", "no sf carrier account is configured for this shop"),
])
def test_a_carrier_that_cannot_register_the_parcel_fails_naming_carrier(engine: sa.Engine, shop: str,
                                                                        carrier: str, error: str) -> None:
    before = _counts(engine)
    report = import_file(engine, shop, f"{HEADER},carrier\nAS-1,O-1,refund_only_shipped,1,SF5001,{carrier}\n".encode(),
                         platform=Platform.pdd)
    assert [(r["status"], r["field"], r["error"]) for r in report.rows] == [("failed", "carrier", error)]
    assert _counts(engine) == before


def test_another_shops_waybill_is_not_found(engine: sa.Engine, shop: str) -> None:
    other = _shop(engine, "Shop B")
    _ship(engine, other, "ZT6001", "O-1")
    report = import_file(engine, shop, f"{HEADER}\nAS-1,O-1,refund_only_shipped,1,ZT6001\n".encode(),
                         platform=Platform.pdd)
    assert (report.rows[0]["status"], report.rows[0]["field"]) == ("failed", "waybill_nos")
    assert "ZT6001 is not registered" in report.rows[0]["error"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(t.aftersales.c.id)).all() == []


def test_a_row_imported_by_another_request_since_the_check_is_reported_as_existing(
        engine: sa.Engine, shop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = f"{HEADER}\nAS-1,O-1,return_refund,1,\n".encode()
    first = import_file(engine, shop, data, platform=Platform.pdd)
    before = _counts(engine)
    # As if the other request committed between the batch check and this row's insert.
    monkeypatch.setattr(csv_import, "_existing_cases", lambda *args: {})
    again = import_file(engine, shop, data, platform=Platform.pdd)
    assert [(r["status"], r["case_id"], r["field"]) for r in again.rows] == [
        ("exists", first.rows[0]["case_id"], None)]
    assert _counts(engine) == before
