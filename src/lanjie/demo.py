"""``lanjie demo``: everything in one process on SQLite — API, console, worker, the sandbox carrier
world and sales-platform simulator under /sandbox, a demo shop connected to the simulated Douyin and
Taobao, an auto-intercept rule, and simulated buyers filing refund-only requests over time (through
the REST API and through the two platforms)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from lanjie.settings import Settings

log = logging.getLogger("lanjie.demo")
SANDBOX_KEY, SANDBOX_CUSTOMER = "DEMOKUAIDI100KEY", "DEMOCUSTOMER"
#: (stage, weight): most refund-only requests arrive while the parcel is on its way.
STAGES = [("picked_up", 2), ("in_transit", 6), ("at_destination", 2), ("out_for_delivery", 1), ("delivered", 1)]
#: (lanjie carrier, waybill number maker): through Kuaidi100 and directly with each native carrier twin.
CARRIERS: list[tuple[str, Callable[[random.Random], str]]] = [
    *[(f"kuaidi100:{c}", lambda r: f"DEMO{r.randrange(10**11, 10**12)}") for c in ("zto", "yto", "sto", "yunda")],
    ("sf:sf", lambda r: f"SF{r.randrange(10**12, 10**13)}"),
    ("zto:zto", lambda r: f"7{r.randrange(10**11, 10**12)}"),
    ("jtexpress:jtexpress", lambda r: f"JT{r.randrange(10**12, 10**13)}"),
    ("sto:sto", lambda r: f"77{r.randrange(10**10, 10**11)}"),
    ("yunda:yunda", lambda r: f"31{r.randrange(10**10, 10**11)}"),
    ("jd:jd", lambda r: f"JDV{r.randrange(10**11, 10**12)}"),
    ("kdniao:zto", lambda r: f"ZK{r.randrange(10**10, 10**11)}"),
    ("ups:ups", lambda r: "1Z" + "".join(r.choice("0123456789ABCDEFGHJKLMNPRSTVWXY") for _ in range(16))),
]
GOODS = [("TEE-01", "纯棉T恤 cotton tee", 5900), ("MUG-02", "陶瓷杯 mug", 3900), ("BAG-03", "帆布包 tote", 8900),
         ("CAP-04", "棒球帽 cap", 4900)]


def run_demo(host: str, port: int, *, buyers_per_minute: float = 6.0) -> int:
    """Start the embedded demo and serve until interrupted."""
    import uvicorn

    from lanjie.api.app import create_app
    from lanjie.bootstrap import bootstrap
    from lanjie.sandbox.config import PlatformSettings, PopulationRates
    from lanjie.sandbox.world import SandboxConfig, SandboxWorld

    base = f"http://{host}:{port}"
    os.environ.setdefault("LANJIE_PUBLIC_BASE_URL", base)
    # Every carrier plugin talks to its twin in the mounted sandbox, every channel to its simulator.
    os.environ.setdefault("LANJIE_CARRIER_SANDBOX_URL", f"{base}/sandbox")
    os.environ.setdefault("LANJIE_CHANNEL_SANDBOX_URL", f"{base}/sandbox")
    os.environ.setdefault("LANJIE_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")  # a webhook receiver on this machine
    settings = Settings()
    container = bootstrap(settings)
    secret = _demo_secret(settings.data_dir)
    shop_id, api_key = _demo_shop(container, settings.data_dir, secret)
    password = _demo_users(container, shop_id, settings.data_dir)
    stranded = _send_stranded_cases_to_a_person(container, shop_id)
    world = SandboxWorld(SandboxConfig(
        time_factor=settings.sandbox_time_factor, propagation_seconds=settings.sandbox_propagation_seconds,
        ack_latency_ms=settings.sandbox_ack_latency_ms,
        kuaidi100_accounts={SANDBOX_KEY: {"customer": SANDBOX_CUSTOMER, "secret": secret["secret"]}},
        platforms=PlatformSettings(population=PopulationRates())))

    async def buyers() -> None:
        await _simulate_buyers(base, api_key, buyers_per_minute)

    app = create_app(container, run_worker=True, sandbox=world, background=[buyers])
    print(f"""
lanjie demo is running
  console   {base}/console   sign in as {", ".join(login for login, _ in DEMO_USERS)}
            password  {password}
  API docs  {base}/docs
  sandbox   {base}/sandbox/control/clock
  shop      {shop_id}
  API key   {api_key}
  database  {container.engine.url.render_as_string()}
{_stranded_note(stranded)}
Try:  curl -H "Authorization: Bearer {api_key}" {base}/v1/aftersales
""", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    return 0


def _demo_secret(data_dir: Path) -> dict[str, str]:
    path = data_dir / "demo-sandbox.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = {"secret": secrets.token_hex(16), "salt": secrets.token_hex(24)}
    path.write_text(json.dumps(secret))
    return secret


def _demo_shop(container: Any, data_dir: Path, secret: dict[str, str]) -> tuple[str, str]:
    """The database's demo shop (the one owner@demo signs in to; made if there is none) and a key for it.

    The database decides which shop is the demo's, not the data folder: a second data folder on the same
    database, or a lost key file, gets a new key for the same shop instead of a second shop. The key is
    remembered in the data folder."""
    from lanjie.service import shops

    path = data_dir / "demo-shop.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    key = str(saved.get("api_key", ""))
    keyed_shop = shops.authenticate(container.engine, key) if key else None
    shop_id = _shop_of_login(container, DEMO_USERS[0][0]) or keyed_shop
    if shop_id is None:
        shop, key = shops.create_shop(container.engine, "演示店铺 Demo shop")
        shop_id = shop.id
    elif keyed_shop != shop_id:  # made from another data folder, or our key file is gone: a key of our own
        key = shops.issue_key(container.engine, shop_id, "demo")
    _demo_accounts(container, shop_id, secret)  # also adds plugins installed since last time
    path.write_text(json.dumps({"shop_id": shop_id, "api_key": key}))
    return shop_id, key


def _shop_of_login(container: Any, login: str) -> str | None:
    """The shop a console login belongs to (logins are unique across shops), or None."""
    import sqlalchemy as sa

    from lanjie.store import tables as t
    from lanjie.store.db import reader

    with reader(container.engine).connect() as conn:
        found = conn.execute(sa.select(t.console_users.c.shop_id).where(t.console_users.c.login == login)).first()
    return None if found is None else str(found.shop_id)


#: The demo shop's console users, one per role.
DEMO_USERS = (("owner@demo", "owner"), ("agent@demo", "agent"), ("warehouse@demo", "warehouse"))


def _demo_users(container: Any, shop_id: str, data_dir: Path) -> str:
    """The demo shop's console users (one password for all three, kept in the data folder).

    When this data folder has no password yet but the users exist (made from another data folder on the
    same database), their password is set to a new one, so the password printed is one that works."""
    from lanjie.service import console_users

    path = data_dir / "demo-console.json"
    stored = json.loads(path.read_text())["password"] if path.exists() else None
    password = stored or secrets.token_urlsafe(9)
    known = {user.login: user for user in console_users.list_users(container.engine, shop_id)}
    for login, role in DEMO_USERS:
        if login not in known:
            names = {"owner": "店主 Owner", "agent": "客服 Agent", "warehouse": "仓库 Warehouse"}
            console_users.create_user(container.engine, shop_id, login, password, role, names[role])
        elif stored is None:
            console_users.update_user(container.engine, shop_id, known[login].id, password=password)
    path.write_text(json.dumps({"password": password}))
    return password


def _demo_accounts(container: Any, shop_id: str, secret: dict[str, str]) -> None:
    """The demo shop's accounts: Kuaidi100, every native carrier twin and both simulated platforms (their
    test accounts), and one auto-intercept rule for the platforms' cases (all day, so the demo decides whatever
    the hour). Cases opened through the REST API (the README's quick start, the REST buyers) are left for a
    person to intercept with a click or a call, so both ways can be seen."""
    from lanjie.sandbox.platforms.douyin import DouyinPlatform
    from lanjie.sandbox.platforms.taobao import TaobaoPlatform
    from lanjie.sandbox.twins import load_twins
    from lanjie.service import autointercept, shops
    from lanjie.service import channels as channel_accounts

    with container.engine.begin() as conn:
        for name, platform in (("douyin", DouyinPlatform), ("taobao", TaobaoPlatform)):
            if name in container.channels.registry and channel_accounts.account_for(conn, shop_id, name) is None:
                channel_accounts.upsert_account(conn, shop_id, name, dict(platform.test_credentials))
        if not autointercept.load_rules(conn, shop_id):
            autointercept.save_rules(conn, shop_id, [autointercept.rule_from_dict({
                "name": "自动拦截 auto-intercept", "channels": ["douyin", "taobao"],
                "service_hours": {"opens": "00:00", "closes": "00:00"},
                "fallback": "refund_on_refusal"})])
        shops.upsert_carrier_account(conn, shop_id, "kuaidi100", {
            "key": SANDBOX_KEY, "customer": SANDBOX_CUSTOMER, "secret": secret["secret"], "salt": secret["salt"]})
        for name, twin in load_twins().items():
            if name in container.gateway.registry and shops.account_for(conn, shop_id, name) is None:
                shops.upsert_carrier_account(conn, shop_id, name, dict(twin.test_credentials))


#: Cases of an earlier run still waiting on its parcels (which the fresh sandbox does not know).
_WAITING_ON_PARCELS = ("open", "intercepting", "intercepted", "awaiting_refusal")
#: The attention reason they are given (shown in the console's queue of cases that need a person).
SANDBOX_RESTARTED = "sandbox_restarted"


def _send_stranded_cases_to_a_person(container: Any, shop_id: str) -> int:
    """Put the demo shop's cases that wait on an earlier run's parcels in front of a person; how many.

    The sandbox world lives in memory, so after a restart it knows none of the parcels of earlier runs
    and their cases would never move again. This runs before the worker starts, so no job races it.
    Cases being refunded are left alone: their refund finishes (or fails, and says so) by itself."""
    import sqlalchemy as sa

    from lanjie.service.ids import utcnow
    from lanjie.service.unit_of_work import UnitOfWork
    from lanjie.store import tables as t

    a = t.aftersales
    with UnitOfWork(container.engine, utcnow()) as uow:
        ids = uow.conn.execute(sa.select(a.c.id).where(a.c.shop_id == shop_id, a.c.status.in_(
            _WAITING_ON_PARCELS)).order_by(a.c.id)).scalars().all()
        for case_id in ids:
            case = uow.case(shop_id, case_id)
            case.needs_person(SANDBOX_RESTARTED)
            uow.save(case)
        uow.commit()
    return len(ids)


def _stranded_note(count: int) -> str:
    if not count:
        return ""
    return (f"  earlier   {count} unfinished case(s) waited on parcels of an earlier run, which this fresh\n"
            f"            sandbox does not know: sent to a person (needs_attention, {SANDBOX_RESTARTED})\n")


async def _simulate_buyers(base: str, api_key: str, per_minute: float) -> None:
    """Ship parcels in the sandbox and file refund-only requests on some of them, over real HTTP."""
    rng = random.Random()
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
        for _ in range(100):  # wait for the server to listen
            try:
                if (await http.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        for account in (await http.get("/v1/channel-accounts")).json()["items"]:  # the simulator pushes to us
            await http.post(f"/sandbox/control/platforms/{account['channel']}/shops", json={
                "app_key": (await http.get("/sandbox/control/platforms")).json()[account["channel"]][
                    "test_credentials"]["app_key"], "push_url": account["callback_url"]})
        n = 0
        while True:
            try:
                await _one_buyer(http, rng)
                n += 1
            except Exception:  # the demo keeps going; the log says what went wrong
                log.exception("simulated buyer failed")
            await asyncio.sleep(60.0 / per_minute if n > 5 else 0.5)


#: (channel, weight) of the simulated buyers' requests.
CHANNELS = (("rest", 2), ("douyin", 2), ("taobao", 1))


def buyer_channels(carrier: str) -> list[tuple[str, int]]:
    """The channels a buyer of a parcel with ``carrier`` (``sf:sf``, ``kuaidi100:zto``…) may ask through:
    Douyin only for the couriers it has a logistics company code for (it refuses an after-sale on any
    other parcel, e.g. a UPS one)."""
    from lanjie.sandbox.platforms.douyin import COMPANY_OF_COURIER
    from lanjie.sandbox.route import canonical_carrier

    courier = canonical_carrier(carrier.rpartition(":")[2])
    return [(c, w) for c, w in CHANNELS if c != "douyin" or courier in COMPANY_OF_COURIER]


async def _one_buyer(http: httpx.AsyncClient, rng: random.Random) -> None:
    stage = rng.choices([s for s, _ in STAGES], [w for _, w in STAGES])[0]
    carrier, make_waybill = rng.choice(CARRIERS)
    waybill = make_waybill(rng)
    channels = buyer_channels(carrier)
    channel = rng.choices([c for c, _ in channels], [w for _, w in channels])[0]
    # Platforms number orders in digits; the REST shop uses its own.
    order_id = f"69{rng.randrange(10**16, 10**17)}" if channel != "rest" else f"ORD{rng.randrange(10**9, 10**10)}"
    sku, name, price = rng.choice(GOODS)
    qty = rng.choice([1, 1, 2])
    recipient = {"name": "王小明", "phone": f"138{rng.randrange(10**7, 10**8)}",
                 "address": "上海市浦东新区世纪大道100号"}
    sender = {"name": "演示仓", "phone": "02160000000", "address": "杭州市余杭区仓前街道1号"}
    r = await http.post("/sandbox/control/parcels", json={"carrier": carrier, "waybill_no": waybill,
                                                          "stage": stage, "sender": sender, "recipient": recipient})
    r.raise_for_status()
    r = await http.post("/v1/shipments", headers={"Idempotency-Key": str(uuid.uuid4())}, json={
        "carrier": carrier, "waybill_no": waybill, "order_id": order_id,
        "items": [{"sku": sku, "name": name, "qty": qty, "price_fen": price}], "value_fen": price * qty,
        "freight_fen": 1200, "sender": sender, "recipient": recipient})
    r.raise_for_status()
    reason = rng.choice(["不想要了 changed mind", "拍错了 ordered by mistake", "发货太慢 too slow"])
    if channel != "rest":  # the buyer asks on the platform; it pushes to lanjie
        r = await http.post(f"/sandbox/control/platforms/{channel}/aftersales", json={
            "order_id": order_id, "type": "refund_only_shipped", "refund_fen": price * qty, "waybill_no": waybill,
            "reason": reason[:20]})
        r.raise_for_status()
        log.info("buyer filed %s after-sale %s on %s (%s)", channel, r.json()["id"], waybill, stage)
        return
    r = await http.post("/v1/aftersales", headers={"Idempotency-Key": str(uuid.uuid4())}, json={
        "order_id": order_id, "type": "refund_only_shipped", "refund_fen": price * qty, "waybill_nos": [waybill],
        "reason": reason, "channel": "rest", "channel_ref": f"RS{rng.randrange(10**9, 10**10)}"})
    r.raise_for_status()
    log.info("buyer filed refund-only case %s on %s (%s)", r.json()["id"], waybill, stage)
