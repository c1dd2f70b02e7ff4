"""Settings → webhooks: create an endpoint (its secret shown once), disable, enable, delete, rotate the secret,
and the delivery log with each delivery's attempts and a redeliver button; another shop's objects are 404."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from lanjie.service.ids import utcnow
from lanjie.store import tables as t
from lanjie.webhooks import store
from tests.api.conftest import shipment_body
from tests.console.conftest import ConsoleWorld, Person

URL = "https://hooks.example.com/lanjie"


def endpoints(console: ConsoleWorld, shop: int) -> list[dict[str, Any]]:
    with console.engine.connect() as conn:
        rows = conn.execute(sa.select(t.webhook_endpoints).where(
            t.webhook_endpoints.c.shop_id == console.shops[shop].id).order_by(t.webhook_endpoints.c.created_at))
        return [dict(r._mapping) for r in rows]


def create(person: Person, url: str = URL, **extra: Any) -> tuple[str, str]:
    r = person.form("/console/settings/webhooks", {"url": url, "description": "ERP", **extra})
    assert r.status_code == 201, r.text
    found = re.search(r'<code id="webhook-secret" data-endpoint="([^"]+)">([^<]+)</code>', r.text)
    assert found is not None and "只显示这一次" in r.text
    return found.group(1), found.group(2)


def seed_case(console: ConsoleWorld, shop: int, waybill: str) -> None:
    machine = console.machine(shop)
    assert machine.post("/v1/shipments", json=shipment_body(waybill, f"O-{waybill}"),
                        headers={"Idempotency-Key": f"ship-{waybill}-0001"}).status_code == 201
    assert machine.post("/v1/aftersales", json={"order_id": f"O-{waybill}", "type": "refund_only_shipped",
                                                "refund_fen": 5900, "waybill_nos": [waybill]},
                        headers={"Idempotency-Key": f"case-{waybill}-0001"}).status_code == 201


def test_creating_an_endpoint_shows_its_secret_once_and_lists_it(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    assert "暂无 Webhook。" in owner.get("/console/settings/webhooks").text
    endpoint_id, secret = create(owner, event_types=["case.created", "intercept.*"])
    (row,) = endpoints(console, 0)
    assert (row["id"], row["url"], row["description"], row["event_types"], row["secret"], row["enabled"]) == (
        endpoint_id, URL, "ERP", ["case.created", "intercept.*"], secret, True)
    page = owner.get("/console/settings/webhooks").text
    assert re.findall(r'<tr id="endpoint-([^"]+)">', page) == [endpoint_id]
    assert "case.created, intercept.*" in page and '<span class="badge ok">启用</span>' in page
    assert secret not in page
    assert endpoints(console, 1) == []


def test_a_refused_url_is_said_in_an_alert_and_nothing_is_created(console: ConsoleWorld) -> None:
    r = console.sign_in("owner").form("/console/settings/webhooks", {"url": "http://10.0.0.7/hook"})
    assert r.status_code == 422 and 'role="alert">这个地址不能用：' in r.text
    assert "webhooks are sent over https only" in r.text
    assert endpoints(console, 0) == []


def test_disable_enable_rotate_and_delete_change_the_endpoint(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    endpoint_id, secret = create(owner)
    base = f"/console/settings/webhooks/{endpoint_id}"
    r = owner.form(base + "/disable", {})
    assert (r.status_code, r.headers["location"]) == (303, "/console/settings/webhooks?notice=webhook_disabled")
    assert (endpoints(console, 0)[0]["enabled"], endpoints(console, 0)[0]["disabled_reason"]) == (
        False, "disabled by the shop")
    assert "Webhook 已停用。" in owner.get(r.headers["location"]).text
    assert owner.form(base + "/enable", {}).status_code == 303 and endpoints(console, 0)[0]["enabled"] is True
    r = owner.form(base + "/rotate-secret", {})
    new = re.search(r'<code id="webhook-secret" data-endpoint="[^"]+">([^<]+)</code>', r.text)
    assert r.status_code == 200 and new is not None and new.group(1) != secret
    assert (endpoints(console, 0)[0]["secret"], endpoints(console, 0)[0]["previous_secret"]) == (new.group(1), secret)
    assert owner.form(base + "/delete", {}).status_code == 303
    assert (endpoints(console, 0)[0]["enabled"], endpoints(console, 0)[0]["disabled_reason"]) == (
        False, "deleted by the shop")
    page = owner.get("/console/settings/webhooks").text
    assert '<span class="badge">已删除</span>' in page and f"{base}/enable" not in page


def test_the_delivery_log_shows_each_delivery_its_attempts_and_redelivers(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    endpoint_id, _ = create(owner)
    seed_case(console, 0, "ZT600000001")
    console.container.webhooks.fan_out()
    with console.engine.begin() as conn:
        (delivery,) = store.list_deliveries(conn, shop_id=console.shops[0].id, endpoint_id=endpoint_id,
                                            status="pending", limit=10, before=None)
        store.record_attempt(conn, delivery=delivery, at=utcnow(), status_code=500, duration_ms=42,
                             response_body="oops", error="HTTP 500", trigger="automatic")
        store.update_delivery(conn, shop_id=console.shops[0].id, delivery_id=delivery.id, now=utcnow(),
                              status="failed", attempts=1, last_status_code=500, next_attempt_at=None)
    page = owner.get(f"/console/settings/webhooks/{endpoint_id}").text
    table = page.split('<table id="deliveries"')[1].split("</table>")[0]
    rows = re.findall(r'<tr id="delivery-(\d+)">\s*<th scope="row"><a [^>]+>([^<]+)</a></th>\s*<td>([^<]+)</td>\s*'
                      r'<td class="num">(\d+)</td>\s*<td class="num">([^<]+)</td>', table)
    assert rows == [(str(delivery.id), "case.created", "失败", "1", "500")]
    detail = owner.get(f"/console/settings/webhook-deliveries/{delivery.id}").text
    attempts = detail.split('<table id="attempts"')[1].split("</table>")[0]
    assert re.findall(r'<th scope="row" class="num">(\d+)</th>.*?<td class="num">(\d+)</td>\s*<td class="num">(\d+)'
                      r'</td>\s*<td>(\w+)</td>\s*<td>([^<]+)</td>', attempts, re.S) == [
        ("1", "500", "42", "automatic", "HTTP 500")]
    assert '"type":"case.created"' in detail.replace("&#34;", '"')
    r = owner.form(f"/console/settings/webhook-deliveries/{delivery.id}/redeliver", {})
    assert (r.status_code, r.headers["location"]) == (
        303, f"/console/settings/webhook-deliveries/{delivery.id}?notice=redelivered")
    with console.engine.connect() as conn:
        assert conn.execute(sa.select(t.webhook_deliveries.c.status).where(
            t.webhook_deliveries.c.id == delivery.id)).scalar_one() == "pending"
        payloads = conn.execute(sa.select(t.jobs.c.payload).where(t.jobs.c.kind == "webhook.deliver")).scalars()
        assert sorted(p["trigger"] for p in payloads) == ["automatic", "manual"]  # the first try, and this one


def test_another_shops_endpoint_and_delivery_are_404_and_stay_as_they_were(console: ConsoleWorld) -> None:
    theirs, _ = create(console.sign_in("owner", shop=1))
    seed_case(console, 1, "ZT600000002")
    console.container.webhooks.fan_out()
    with console.engine.connect() as conn:
        delivery_id = conn.execute(sa.select(t.webhook_deliveries.c.id)).scalar_one()
    owner = console.sign_in("owner", shop=0)
    for path in (f"/console/settings/webhooks/{theirs}", f"/console/settings/webhook-deliveries/{delivery_id}"):
        r = owner.get(path)
        assert (r.status_code, "找不到这条记录。" in r.text) == (404, True), path
    for action in ("disable", "delete", "rotate-secret"):
        assert owner.form(f"/console/settings/webhooks/{theirs}/{action}", {}).status_code == 404
    assert owner.form(f"/console/settings/webhook-deliveries/{delivery_id}/redeliver", {}).status_code == 404
    (row,) = endpoints(console, 1)
    assert (row["enabled"], row["previous_secret"]) == (True, None)


def test_webhook_changes_need_the_csrf_token(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    endpoint_id, secret = create(owner)
    assert owner.form("/console/settings/webhooks", {"url": URL + "/2"}, csrf="").status_code == 403
    for action in ("disable", "delete", "rotate-secret"):
        assert owner.form(f"/console/settings/webhooks/{endpoint_id}/{action}", {}, csrf="forged").status_code == 403
    (row,) = endpoints(console, 0)
    assert (row["enabled"], row["secret"]) == (True, secret)


def test_the_webhook_pages_render_in_english(console: ConsoleWorld) -> None:
    owner = console.sign_in("owner")
    endpoint_id, _ = create(owner)
    owner.client.cookies.set("lanjie_lang", "en")
    assert "No deliveries yet." in owner.get(f"/console/settings/webhooks/{endpoint_id}").text
    page = owner.get("/console/settings/webhooks").text
    assert '<span class="badge ok">Enabled</span>' in page and "All events" in page
