"""PostgreSQL row-level security, the backstop behind the shop filters: lanjie run as an ordinary role."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from lanjie.store import tables as t
from lanjie.store.db import make_engine, tenant
from tests.conftest import ON_POSTGRES
from tests.e2e.live import start_live, stop_live

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="row-level security is PostgreSQL's")
def test_the_whole_flow_runs_under_row_level_security(database_url: str, tmp_path: Path) -> None:
    app_url = database_url  # the suite runs as an ordinary role on PostgreSQL (tests/conftest.py)
    engine = make_engine(app_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                            ).one() == (False, False)
    engine.dispose()
    live = start_live(app_url, tmp_path)  # API, worker, callbacks and settlement, all as that role
    try:
        case = live.staged_case("ZT990000001", "R-1")
        live.post(f"/v1/aftersales/{case['id']}/intercepts", {"type": "return_to_sender"})
        live.wait_for(lambda: live.case(case["id"])["intercepts"][0]["status"] == "submitted")
        live.advance(2 * 24 * 3600)
        done = live.wait_for(lambda: (c := live.case(case["id"]))["status"] == "completed" and c)
        assert done["refund"]["status"] == "succeeded"

        other = live.container.engine  # a second shop, made through the same role
        from lanjie.service import shops

        _, other_key = shops.create_shop(other, "Other")
        assert live.client.get(f"/v1/aftersales/{case['id']}",
                               headers={"Authorization": f"Bearer {other_key}"}).status_code == 404

        # Below the API: a transaction for one shop sees that shop's rows and cannot write another's.
        engine = make_engine(app_url)
        try:
            with tenant(engine, live.shop_id).connect() as conn:
                assert conn.execute(sa.select(sa.func.count()).select_from(t.shops)).scalar_one() == 1
                assert conn.execute(sa.select(sa.func.count()).select_from(t.aftersales)).scalar_one() == 1
            with tenant(engine, "shop_nobody").connect() as conn:
                assert conn.execute(sa.select(sa.func.count()).select_from(t.aftersales)).scalar_one() == 0
                assert conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one() == 0
            with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), \
                    tenant(engine, "shop_nobody").begin() as conn:
                conn.execute(t.idempotency_keys.insert().values(
                    shop_id=live.shop_id, key="x" * 16, fingerprint="f", response_status=0, response_body="",
                    created_at=sa.func.now()))
        finally:
            engine.dispose()
        # Without any shop named, nothing at all is visible: the policy fails closed.
        with psycopg.connect(app_url.replace("postgresql+psycopg://", "postgresql://")) as raw:
            assert raw.execute("SELECT count(*) FROM aftersales").fetchone() == (0,)
    finally:
        stop_live(live)
