"""Evidence files in the database: one row per shop and content, bytes first, reads by shop only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from lanjie import files
from lanjie.domain.errors import NotFound
from lanjie.files import LocalFileStore, UnsupportedType
from lanjie.service import shops
from lanjie.store import tables as t
from tests.files.samples import JPEG, PDF, png

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def _rows(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t.evidence_files)))


def test_saving_records_the_file_and_saving_it_again_finds_the_same_row(engine: sa.Engine, tmp_path: Path) -> None:
    shop, _ = shops.create_shop(engine, "A")
    store = LocalFileStore(tmp_path)
    first, created = files.save(engine, store, shop_id=shop.id, data=png(), name="a.png", now=NOW)
    again, created_again = files.save(engine, store, shop_id=shop.id, data=png(), name="b.png", now=NOW)
    assert (created, created_again) == (True, False)
    assert again == first
    assert first == files.EvidenceFile(id=files.file_id(shop.id, first.sha256), shop_id=shop.id, sha256=first.sha256,
                                       media_type="image/png", size=len(png()), name="a.png",
                                       storage_key=files.key_for(first.sha256), created_at=NOW)
    assert len(_rows(engine)) == 1
    with engine.connect() as conn:
        assert files.read(conn, store, shop_id=shop.id, file_id=first.id) == (first, png())


def test_another_shop_cannot_read_a_file_by_its_id(engine: sa.Engine, tmp_path: Path) -> None:
    a, _ = shops.create_shop(engine, "A")
    b, _ = shops.create_shop(engine, "B")
    store = LocalFileStore(tmp_path)
    saved, _ = files.save(engine, store, shop_id=a.id, data=PDF, now=NOW)
    with engine.connect() as conn:
        assert files.get(conn, shop_id=b.id, file_id=saved.id) is None
        assert files.files_of(conn, shop_id=b.id, ids=[saved.id]) == []
        with pytest.raises(NotFound):
            files.read(conn, store, shop_id=b.id, file_id=saved.id)


def test_files_of_keeps_the_order_asked_and_drops_unknown_ids(engine: sa.Engine, tmp_path: Path) -> None:
    shop, _ = shops.create_shop(engine, "A")
    store = LocalFileStore(tmp_path)
    jpeg, _ = files.save(engine, store, shop_id=shop.id, data=JPEG, now=NOW)
    pdf, _ = files.save(engine, store, shop_id=shop.id, data=PDF, now=NOW)
    with engine.connect() as conn:
        found = files.files_of(conn, shop_id=shop.id, ids=[pdf.id, "ef_" + "0" * 32, jpeg.id, pdf.id])
    assert [f.id for f in found] == [pdf.id, jpeg.id]


def test_a_refused_file_writes_neither_bytes_nor_row(engine: sa.Engine, tmp_path: Path) -> None:
    shop, _ = shops.create_shop(engine, "A")
    with pytest.raises(UnsupportedType):
        files.save(engine, LocalFileStore(tmp_path / "files"), shop_id=shop.id, data=b"MZ\x90\x00 an exe", now=NOW)
    assert (_rows(engine), (tmp_path / "files").exists()) == ([], False)
