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
    assert main(["carrier-account", "shop_x", "kuaidi100", "--set", "key=K", "--set", "customer=C",
                 "--set", "secret=S", "--set", "salt=short"]) == 2
    assert "at least 32 characters" in capsys.readouterr().err


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "serve", "worker", "sandbox", "shop", "user", "carrier-account", "carriers", "migrate",
                    "jobs", "import-cases"):
        assert command in out


def test_carrier_account_for_an_unknown_shop_is_refused_and_writes_nothing(
        database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    assert main(["carrier-account", "shop_nope", "kuaidi100", "--set", "key=K", "--set", "customer=C",
                 "--set", "secret=S", "--set", f"salt={'x' * 32}"]) == 2
    assert capsys.readouterr().err == "error: no shop 'shop_nope'\n"
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.carrier_accounts)).scalar_one() == 0
    finally:
        engine.dispose()


def test_carriers_json_lists_every_installed_plugin_with_what_it_declares(capsys: pytest.CaptureFixture[str]) -> None:
    from lanjie.carriers.registry import load_carriers

    assert main(["carriers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    plugins = load_carriers()
    assert [row["name"] for row in rows] == sorted(plugins)
    for row in rows:
        cls = plugins[row["name"]]
        assert row["capabilities"] == sorted(cls.capabilities)
        assert row["credential_names"] == list(cls.credential_names)
        assert row["optional_credential_names"] == list(getattr(cls, "optional_credential_names", ()))
        assert row["intercept_types"] == sorted(cls.intercept_types)
        assert row["intercept"] == ("native" if "intercept" in row["capabilities"]
                                    else f"via {cls.intercept_via}" if cls.intercept_via else "—")


def test_carrier_account_reads_credentials_from_stdin_and_never_prints_them(
        database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    assert main(["shop", "create", "Socks", "--json"]) == 0
    shop_id = json.loads(capsys.readouterr().out)["shop_id"]
    secret = {"partner_id": "PARTNER-7", "check_word": "cw-very-secret-0042"}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(secret)))
    assert main(["carrier-account", shop_id, "sf", "--credentials-json", "-"]) == 0
    out = capsys.readouterr().out
    assert "cw-very-secret-0042" not in out and "PARTNER-7" not in out
    assert out.startswith("carrier account ca_") and "(check_word, partner_id; values are never printed)" in out
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(t.carrier_accounts)).one()
        assert (row.shop_id, row.carrier) == (shop_id, "sf")
    finally:
        engine.dispose()


@pytest.mark.parametrize(("argv", "error"), [
    (["--set", "partner_id=P"], "error: credentials.check_word is required\n"),
    (["--set", "partner_id=P", "--set", "check_word=C", "--set", "checkword=typo"],
     "error: credentials.checkword is not a credential of sf (it takes partner_id, check_word, "
     "monthly_card_no (optional))\n"),
    (["--set", "partner_id"], "error: --set takes NAME=VALUE, not 'partner_id'\n"),
])
def test_carrier_account_names_what_is_wrong_with_the_credentials(
        argv: list[str], error: str, database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    assert main(["carrier-account", "shop_x", "sf", *argv]) == 2
    assert capsys.readouterr().err == error


def test_user_create_reads_the_password_from_stdin_and_the_user_can_sign_in(
        database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from lanjie.service.console_users import list_users, sign_in

    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    assert main(["shop", "create", "Tea house", "--json"]) == 0
    shop_id = json.loads(capsys.readouterr().out)["shop_id"]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main(["user", "create", shop_id, "Mei@Tea.example", "--role", "agent", "--name", "Mei"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("user_id: cu_") and lines[1:] == ["login: mei@tea.example", "role: agent"]
    engine = make_engine(database_url)
    try:
        [user] = list_users(engine, shop_id)
        assert (user.login, user.name, user.role, user.disabled) == ("mei@tea.example", "Mei", "agent", False)
        signed = sign_in(engine, "mei@tea.example", "a long enough secret")
        assert signed is not None and signed[1].id == user.id
        with engine.connect() as conn:
            stored = conn.execute(sa.select(t.console_users.c.password_hash)).scalar_one()
        assert stored.startswith("scrypt$16384$8$1$") and "a long enough secret" not in stored
    finally:
        engine.dispose()


def test_user_create_refuses_a_short_password_a_taken_login_and_an_unknown_shop(
        database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setenv("LANJIE_DATABASE_URL", database_url)
    assert main(["shop", "create", "Tea house", "--json"]) == 0
    shop_id = json.loads(capsys.readouterr().out)["shop_id"]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "create", shop_id, "mei", "--role", "owner"]) == 2
    assert capsys.readouterr().err == "error: password: at least 10 characters\n"
    assert main(["user", "create", shop_id, "mei", "--role", "owner", "--generate-password"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[3].startswith("password: ") and out[4] == "(shown once; lanjie stores only its scrypt hash)"
    assert main(["user", "create", shop_id, "MEI", "--role", "agent", "--generate-password"]) == 2
    assert capsys.readouterr().err == "error: login: 'mei' is taken\n"
    assert main(["user", "create", "shop_nope", "ann", "--role", "agent", "--generate-password"]) == 2
    assert capsys.readouterr().err == "error: no shop 'shop_nope'\n"
