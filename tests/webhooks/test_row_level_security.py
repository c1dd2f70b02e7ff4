"""PostgreSQL row-level security covers the webhook tables like every other tenant table."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from lanjie.settings import Settings
from lanjie.store import tables as t
from lanjie.store.db import tenant
from lanjie.webhooks import Webhooks, manage
from tests.conftest import ON_POSTGRES
from tests.webhooks.conftest import T0, add_events, new_shop

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="row-level security is PostgreSQL's")
TABLES = (t.webhook_endpoints, t.webhook_deliveries, t.webhook_attempts)


def test_a_shop_sees_only_its_own_webhook_rows_and_cannot_write_another_shops(engine: sa.Engine) -> None:
    a, b = new_shop(engine, "A"), new_shop(engine, "B")
    with engine.begin() as conn:
        manage.create_endpoint(conn, shop_id=a, url="https://h.example.com/", description="",
                                             event_types=[], now=T0)
    add_events(engine, a, "aftersale.created")
    Webhooks(engine, httpx.AsyncClient(), Settings()).fan_out()
    with engine.begin() as conn:
        delivery_id = conn.execute(sa.select(t.webhook_deliveries.c.id)).scalar_one()
        conn.execute(t.webhook_attempts.insert().values(shop_id=a, delivery_id=delivery_id, n=1, at=T0,
                                                        duration_ms=1, trigger="manual"))

    def counts(shop: str) -> list[int]:
        with tenant(engine, shop).connect() as conn:
            return [conn.execute(sa.select(sa.func.count()).select_from(tb)).scalar_one() for tb in TABLES]

    assert (counts(a), counts(b), counts("*")) == ([1, 1, 1], [0, 0, 0], [1, 1, 1])
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), tenant(engine, b).begin() as conn:
        conn.execute(t.webhook_endpoints.insert().values(
            id="whe_forged", shop_id=a, url="https://h.example.com/", event_types=[], secret="whsec_x",
            enabled=True, cursor=0, created_at=T0, updated_at=T0))
    assert counts(a) == [1, 1, 1]
