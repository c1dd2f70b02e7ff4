"""A lanjie server on a real 127.0.0.1 port (no worker, carriers pointed nowhere) with two shops, each with
an owner, an agent and a warehouse user, and httpx clients signed in to the console as each of them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from lanjie.api.app import create_app
from lanjie.bootstrap import Container, bootstrap
from lanjie.embedded import ServerThread, free_socket
from lanjie.service import console_users, shops
from lanjie.settings import Settings
from lanjie.store.db import make_engine
from tests.api.conftest import K100_CUSTOMER, K100_KEY, K100_SALT, K100_SECRET

PASSWORD = "correct horse battery"
ROLES = ("owner", "agent", "warehouse")


@dataclass
class Shop:
    id: str
    api_key: str
    logins: dict[str, str]  # role → login


@dataclass
class Person:
    """An httpx client signed in to the console; ``csrf`` is its session's token."""

    client: httpx.Client
    csrf: str

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def form(self, path: str, data: dict[str, Any], *, csrf: str | None = None) -> httpx.Response:
        """A console form POST with the session's CSRF token (or ``csrf`` to forge one)."""
        return self.client.post(path, data={"csrf": self.csrf if csrf is None else csrf, **data})

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A /v1 call as the console's scripts make it: cookie, X-CSRF-Token, Idempotency-Key."""
        headers = {"X-CSRF-Token": self.csrf, "Idempotency-Key": f"console-{uuid.uuid4()}", **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)


@dataclass
class ConsoleWorld:
    base: str
    container: Container
    shops: list[Shop]
    server: ServerThread
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def engine(self) -> sa.Engine:
        return self.container.engine

    def machine(self, shop: int = 0) -> httpx.Client:
        """A machine's API client (Bearer key) for seeding data."""
        client = httpx.Client(base_url=self.base, timeout=10,
                              headers={"Authorization": f"Bearer {self.shops[shop].api_key}"})
        self._clients.append(client)
        return client

    def anonymous(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base, timeout=10)
        self._clients.append(client)
        return client

    def sign_in(self, role: str = "owner", shop: int = 0) -> Person:
        client = self.anonymous()
        r = client.post("/console/sign-in", data={"login": self.shops[shop].logins[role], "password": PASSWORD})
        assert r.status_code == 303, r.text
        session = console_users.session_for(self.engine, client.cookies["lanjie_session"])
        assert session is not None
        return Person(client, session.csrf_token)


def csrf_of(html: str) -> str:
    """The CSRF token a rendered console page carries."""
    found = re.search(r'<meta name="csrf-token" content="([^"]*)"', html)
    assert found is not None
    return found.group(1)


def _shop(engine: sa.Engine, name: str, n: int) -> Shop:
    shop, key = shops.create_shop(engine, name)
    with engine.begin() as conn:
        shops.upsert_carrier_account(conn, shop.id, "kuaidi100", {
            "key": K100_KEY, "customer": K100_CUSTOMER, "secret": K100_SECRET, "salt": K100_SALT})
    logins = {}
    for role in ROLES:
        login = f"{role}{n}@shop.test"
        console_users.create_user(engine, shop.id, login, PASSWORD, role, f"{role.title()} {n}")
        logins[role] = login
    return Shop(shop.id, key, logins)


@pytest.fixture
def console(database_url: str, tmp_path: Path) -> Iterator[ConsoleWorld]:
    container = bootstrap(Settings(data_dir=tmp_path, database_url=database_url, console_secure_cookies=False,
                                   kuaidi100_api_url="http://127.0.0.1:9/none",
                                   kuaidi100_poll_url="http://127.0.0.1:9/none"),
                          engine=make_engine(database_url), run_migrations=False)
    container.webhooks.resolve = lambda host, port: ["93.184.215.14"]
    world_shops = [_shop(container.engine, "Shop A", 1), _shop(container.engine, "Shop B", 2)]
    server = ServerThread(create_app(container), free_socket())
    server.start()
    world = ConsoleWorld(server.url, container, world_shops, server)
    try:
        yield world
    finally:
        for client in world._clients:
            client.close()
        server.stop()
        container.engine.dispose()
