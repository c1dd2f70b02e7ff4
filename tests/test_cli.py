"""The ``lanjie`` command line."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from lanjie.cli import main
from lanjie.service.shops import authenticate
from lanjie.store import tables as t
from lanjie.store.db import make_engine


def test_shop_create_prints_the_id_and_a_key_stored_only_as_a_hash(
        database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    assert main(["shop", "create", "Tea house", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    engine = make_engine(database_url)
    try:
        assert authenticate(engine, printed["api_key"]) == printed["shop_id"]
        with engine.connect() as conn:
            shop = conn.execute(sa.select(t.shops)).one()
            stored = conn.execute(sa.select(t.api_keys.c.secret_sha256)).scalar_one()
        assert (shop.id, shop.name, shop.settlement_policy) == (printed["shop_id"], "Tea house", "on_turned_back")
        assert printed["api_key"].split("_")[-1] not in stored and len(stored) == 64
    finally:
        engine.dispose()


def test_shop_create_prints_plainly_for_people(database_url: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    assert main(["shop", "create", "Noodles", "--policy", "on_accept"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("shop_id: shop_") and lines[1].startswith("api_key: lj_k_")
    assert lines[2] == "(the key is shown once; lanjie stores only its hash)"


def test_carrier_account_refuses_a_short_salt(database_url: str, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    assert main(["carrier-account", "shop_x", "kuaidi100", "--key", "K", "--customer", "C", "--secret", "S",
                 "--salt", "short"]) == 2
    assert "at least 32 characters" in capsys.readouterr().err


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "serve", "worker", "sandbox", "shop", "carrier-account", "migrate", "jobs"):
        assert command in out


def test_carrier_account_for_an_unknown_shop_is_refused_and_writes_nothing(
        database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    assert main(["carrier-account", "shop_nope", "kuaidi100", "--key", "K", "--customer", "C", "--secret", "S",
                 "--salt", "x" * 32]) == 2
    assert capsys.readouterr().err == "error: no shop 'shop_nope'\n"
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.carrier_accounts)).scalar_one() == 0
    finally:
        engine.dispose()
