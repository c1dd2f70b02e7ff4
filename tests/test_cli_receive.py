"""``lanjie receive``: the warehouse receives a returned parcel from a terminal or a scanner script."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lanjie.cli import main
from lanjie.settings import Settings
from lanjie.store import tables as t
from lanjie.store.db import make_engine
from tests.service.test_reconciliation import Parcel, intercepted, make_shop

#: The smallest thing that sniffs as a PNG (the files package checks the bytes, not the name).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


@pytest.fixture
def shop(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[sa.Engine, str]]:
    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    monkeypatch.setenv("LANJIE_DATA_DIR", str(tmp_path / "data"))
    engine = make_engine(database_url)
    try:
        yield engine, make_shop(engine)[0]
    finally:
        engine.dispose()


def parcel(shop: tuple[sa.Engine, str], waybill: str) -> Parcel:
    engine, shop_id = shop
    return intercepted(engine, Settings(), shop_id, waybill)


def one(engine: sa.Engine, table: sa.Table, **where: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        [row] = conn.execute(sa.select(table).where(*(table.c[k] == v for k, v in where.items()))).all()
    return dict(row._mapping)


def test_a_short_parcel_is_received_with_its_counts_photo_and_note_and_drafts_a_claim(
        shop: tuple[sa.Engine, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine, shop_id = shop
    p = parcel(shop, "ZT7001")
    (tmp_path / "box.png").write_bytes(PNG)
    assert main(["receive", "ZT7001", "--shop", shop_id, "--inspection", "short", "--item", "CUP=0",
                 "--photo", str(tmp_path / "box.png"), "--note", "tape cut"]) == 0
    leg = one(engine, t.return_legs, shipment_id=p.shipment_id)
    claim = one(engine, t.claims, shipment_id=p.shipment_id)
    photo = one(engine, t.evidence_files, shop_id=shop_id)
    assert (leg["status"], leg["inspection"], leg["inspection_note"], leg["items"], leg["photos"]) == (
        "received", "short", "tape cut", [{"sku": "TEA", "expected": 2, "received": 2},
                                          {"sku": "CUP", "expected": 1, "received": 0}], [photo["id"]])
    assert (photo["media_type"], photo["name"], claim["type"], claim["amount_fen"]) == ("image/png", "box.png",
                                                                                       "short", 2000)
    assert capsys.readouterr().out == (f"received ZT7001 (short): TEA 2/2, CUP 0/1\n"
                                       f"case {p.case_id}: refunding (intercepted_refund)\n"
                                       f"claim {claim['id']} drafted\n")


def test_an_ok_parcel_needs_only_the_number(shop: tuple[sa.Engine, str], capsys: pytest.CaptureFixture[str]) -> None:
    engine, shop_id = shop
    p = parcel(shop, "ZT7002")
    assert main(["receive", "ZT7002", "--shop", shop_id]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "received ZT7002 (ok): TEA 2/2, CUP 1/1"
    assert one(engine, t.return_legs, shipment_id=p.shipment_id)["inspection"] == "ok"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.claims)).scalar_one() == 0


def test_refusals_exit_1_and_receive_nothing(shop: tuple[sa.Engine, str], capsys: pytest.CaptureFixture[str]) -> None:
    engine, shop_id = shop
    p = parcel(shop, "ZT7003")
    assert main(["receive", "ZT9999", "--shop", shop_id]) == 1
    assert main(["receive", "ZT7003", "--shop", shop_id, "--item", "CUP=2"]) == 1  # more than was shipped
    assert main(["receive", "ZT7003", "--shop", shop_id, "--inspection", "short"]) == 1  # short of nothing
    assert one(engine, t.return_legs, shipment_id=p.shipment_id)["status"] == "returning"
    assert main(["receive", "ZT7003", "--shop", shop_id]) == 0
    capsys.readouterr()
    assert main(["receive", "ZT7003", "--shop", shop_id]) == 1  # once only
    errors = capsys.readouterr().err.splitlines()
    assert errors == ["error: the return of ZT7003 was received already"]


@pytest.mark.parametrize("args", [
    ["--item", "CUP"], ["--item", "CUP=-1"], ["--item", "CUP=1", "--item", "CUP=0"],
    ["--damaged-value-fen", "100"], ["--inspection", "damaged", "--damaged-value-fen", "0"],
    ["--photo", "/nonexistent/box.png"],
])
def test_bad_input_exits_2_and_receives_nothing(shop: tuple[sa.Engine, str], args: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    engine, shop_id = shop
    p = parcel(shop, "ZT7004")
    assert main(["receive", "ZT7004", "--shop", shop_id, *args]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert one(engine, t.return_legs, shipment_id=p.shipment_id)["status"] == "returning"


def test_a_file_that_is_no_photo_and_an_unknown_shop_exit_2(shop: tuple[sa.Engine, str], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    engine, shop_id = shop
    p = parcel(shop, "ZT7005")
    (tmp_path / "notes.txt").write_text("not a photo")
    assert main(["receive", "ZT7005", "--shop", shop_id, "--photo", str(tmp_path / "notes.txt")]) == 2
    assert main(["receive", "ZT7005", "--shop", "sh_nosuchshop"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "error: no shop 'sh_nosuchshop'"
    assert one(engine, t.return_legs, shipment_id=p.shipment_id)["status"] == "returning"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.evidence_files)).scalar_one() == 0
