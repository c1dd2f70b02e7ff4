"""``lanjie import-cases``: import an after-sales CSV from the command line, write the result file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lanjie.cli import build_parser, main
from lanjie.service import shops
from lanjie.service.csv_rows import Platform
from lanjie.store import tables as t
from lanjie.store.db import make_engine


@pytest.fixture
def shop(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    engine = make_engine(database_url)
    try:
        yield shops.create_shop(engine, "Tea house")[0].id
    finally:
        engine.dispose()


def _cases(database_url: str) -> list[tuple[str, str, str]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return [(r.channel, r.channel_ref, r.id) for r in conn.execute(sa.select(t.aftersales).order_by(
                t.aftersales.c.channel_ref))]
    finally:
        engine.dispose()


def test_every_row_handled_exits_0_and_writes_the_result_beside_the_file(
        shop: str, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "kuaishou.csv"
    source.write_bytes("售后单号,订单号,售后类型,退款金额,运单号,备注\nKS-1,O-1,退货退款,12.30,,x\n"
                       "KS-2,O-2,换货,1,,\n".encode("gbk"))
    assert main(["import-cases", str(source), "--shop", shop, "--platform", "kuaishou"]) == 0
    cases = _cases(database_url)
    assert [c[:2] for c in cases] == [("kuaishou", "KS-1"), ("kuaishou", "KS-2")]
    assert capsys.readouterr().out == (f"2 rows: 2 created, 0 already there, 0 failed\nignored columns: 备注\n"
                                       f"result file: {tmp_path / 'kuaishou.result.csv'}\n")
    assert (tmp_path / "kuaishou.result.csv").read_bytes() == (
        "\ufeffrow,aftersale_id,status,case_id,field,error\r\n"
        f"2,KS-1,created,{cases[0][2]},,\r\n3,KS-2,created,{cases[1][2]},,\r\n").encode()

    assert main(["import-cases", str(source), "--shop", shop, "--platform", "kuaishou"]) == 0  # again: all exist
    assert capsys.readouterr().out.splitlines()[0] == "2 rows: 0 created, 2 already there, 0 failed"
    assert _cases(database_url) == cases


def test_a_failed_row_exits_1_and_is_named_in_the_summary_and_the_result_file(
        shop: str, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_text("platform,aftersale_id,order_id,type,refund_yuan\nwechat,W-1,O-1,return_refund,1\n"
                      "wechat,W-2,O-2,return_refund,1.001\n", encoding="utf-8")
    result = tmp_path / "out" / "result.csv"
    result.parent.mkdir()
    assert main(["import-cases", str(source), "--shop", shop, "--result", str(result)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "2 rows: 1 created, 0 already there, 1 failed",
        "line 3 (W-2): refund_yuan: '1.001' has more than 2 decimals [refund_yuan]",
        f"result file: {result}"]
    assert result.read_bytes().decode("utf-8-sig").splitlines()[2] == (
        "3,W-2,failed,,refund_yuan,refund_yuan: '1.001' has more than 2 decimals")
    assert [c[:2] for c in _cases(database_url)] == [("wechat", "W-1")]


def test_a_refused_file_or_an_unknown_shop_exits_2_and_writes_nothing(
        shop: str, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_text("aftersale_id,type,refund_fen\nP-1,exchange,1\n", encoding="utf-8")
    assert main(["import-cases", str(source), "--shop", shop, "--platform", "pdd"]) == 2
    assert capsys.readouterr().err == "error: missing column order_id (or 订单号/订单编号) (nothing was imported)\n"
    source.write_text("aftersale_id,order_id,type,refund_fen\nP-1,O-1,exchange,1\n", encoding="utf-8")
    assert main(["import-cases", str(source), "--shop", "shop_nope", "--platform", "pdd"]) == 2
    assert capsys.readouterr().err == "error: no shop 'shop_nope'\n"
    assert main(["import-cases", str(tmp_path / "missing.csv"), "--shop", shop]) == 2
    assert capsys.readouterr().err == f"error: cannot read {tmp_path / 'missing.csv'}: No such file or directory\n"
    assert _cases(database_url) == []
    assert not (tmp_path / "in.result.csv").exists()


def test_the_platform_choices_are_the_import_platforms() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    import_cases = sub.choices["import-cases"]  # type: ignore[index]
    platform = next(a for a in import_cases._actions if a.dest == "platform")
    assert platform.choices == [p.value for p in Platform]
