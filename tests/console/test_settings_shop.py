"""Settings → the shop: the time zone the console shows times in."""

from __future__ import annotations

import re

import sqlalchemy as sa

from lanjie.store import tables as t
from tests.console.conftest import ConsoleWorld
from tests.e2e.live import shipment_body


def _zone(console: ConsoleWorld, shop: int = 0) -> str:
    with console.engine.connect() as conn:
        return conn.execute(sa.select(t.shops.c.timezone).where(t.shops.c.id == console.shops[shop].id)).scalar_one()


def _created_shown(html: str) -> str:
    """The case page's 'created' time, as shown."""
    found = re.search(r'id="fact-created"[^>]*>([^<]+)<', html)
    assert found is not None
    return found.group(1).strip()


def test_the_owner_changes_the_time_zone_and_times_move_with_it(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    page = owner.get("/console/settings/shop").text
    assert '<dd id="shop-name">Shop A</dd>' in page and f'<code id="shop-id">{console.shops[0].id}</code>' in page
    assert '<option value="Asia/Shanghai" selected>' in page and '<option value="Europe/Berlin">' in page
    machine = console.machine(0)
    body = shipment_body("ZT7100000001", "TZ-1")
    shipped = machine.post("/v1/shipments", json=body, headers={"Idempotency-Key": "tz-ship-0000000001"})
    assert shipped.status_code == 201
    case = machine.post("/v1/aftersales", headers={"Idempotency-Key": "tz-case-0000000001"}, json={
        "order_id": "TZ-1", "type": "refund_only_shipped", "refund_fen": 5900, "waybill_nos": ["ZT7100000001"]})
    created = case.json()["created_at"]
    shanghai = _created_shown(owner.get(f"/console/cases/{case.json()['id']}").text)

    r = owner.form("/console/settings/shop", {"timezone": "UTC"})
    assert (r.status_code, r.headers["location"]) == (303, "/console/settings/shop?notice=shop_saved")
    assert _zone(console) == "UTC" and _zone(console, 1) == "Asia/Shanghai"
    assert "时区已保存。" in owner.get(r.headers["location"]).text
    utc = _created_shown(owner.get(f"/console/cases/{case.json()['id']}").text)
    assert utc == created[:16].replace("T", " ")  # the stored UTC time, as it is
    hours = (int(shanghai[11:13]) - int(utc[11:13])) % 24
    assert hours == 8


def test_an_unknown_zone_is_refused_and_nothing_changes(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    r = owner.form("/console/settings/shop", {"timezone": "Mars/Olympus"})
    assert r.status_code == 422 and 'role="alert"' in r.text and "Mars/Olympus" in r.text
    assert owner.form("/console/settings/shop", {"timezone": "UTC"}, csrf="forged").status_code == 403
    assert _zone(console) == "Asia/Shanghai"
    for role in ("agent", "warehouse"):
        person = console.sign_in(role)
        assert person.get("/console/settings/shop").status_code == 403
        assert person.form("/console/settings/shop", {"timezone": "UTC"}).status_code == 403
    assert _zone(console) == "Asia/Shanghai"


def test_the_shop_page_in_english(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    owner.client.cookies.set("lanjie_lang", "en")
    page = owner.get("/console/settings/shop").text
    assert '<label for="timezone">Time zone</label>' in page and "Every time in the console" in page
