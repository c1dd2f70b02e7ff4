"""Settings: the shop's carrier accounts and sales-channel accounts (credentials are write-only).

Both work the same way: a list (the callback URL to give the platform, when it was last changed), then a
form whose inputs are the chosen plugin's credential names. Credentials are never shown again; updating an
account, an input left blank keeps the stored value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from lanjie.carriers.registry import credential_problem as carrier_problem
from lanjie.channels.errors import ChannelRejected
from lanjie.channels.registry import credential_problem as channel_problem
from lanjie.console.settings_frame import Owner, done, page
from lanjie.console.web import CheckedForm, container, engine_for
from lanjie.service import channels, shops
from lanjie.service.console_users import ConsoleSession
from lanjie.store import tables as t

router = APIRouter(include_in_schema=False)
#: Credential names whose values are secrets (typed into a password input).
SECRET_NAME = re.compile(r"secret|key|token|word|salt|session|password", re.IGNORECASE)


@dataclass(frozen=True)
class Kind:
    """Carrier accounts or channel accounts: where they live and how a plugin checks them."""

    sub: str  # the settings section
    path: str
    table: sa.Table
    column: str  # the table's plugin column
    plugins: Callable[[Any], Mapping[str, Any]]  # container → plugin classes that take an account
    callback_url: Callable[[Any, Any], str]  # container, row → the URL the platform pushes to
    problem: Callable[[Any, str, str, dict[str, str]], str | None]  # container, shop, plugin, credentials
    save: Callable[[sa.Connection, str, str, dict[str, str]], Any]
    notice: str


def _carrier_problem(box: Any, _: str, plugin: str, credentials: dict[str, str]) -> str | None:
    return carrier_problem(box.gateway.registry[plugin], credentials)


def _channel_problem(box: Any, shop_id: str, plugin: str, credentials: dict[str, str]) -> str | None:
    problem = channel_problem(box.channels.registry[plugin], credentials)
    if problem is None:
        try:  # an adapter checks the values it can (Taobao's platform is taobao or tmall)
            box.channels.adapter(channels.ChannelAccountRecord("check", shop_id, plugin, credentials, ""))
        except ChannelRejected as exc:
            return exc.message
    return problem


CARRIERS = Kind(
    "carriers", "/console/settings/carriers", t.carrier_accounts, "carrier", lambda box: box.gateway.registry,
    lambda box, row: box.gateway.callback_url(shops.AccountRecord(row.id, row.shop_id, row.carrier, {},
                                                                  row.callback_token)),
    _carrier_problem, shops.upsert_carrier_account, "carrier_saved")
CHANNELS = Kind(
    "channels", "/console/settings/channels", t.channel_accounts, "channel",
    lambda box: {name: cls for name, cls in box.channels.registry.items() if cls.credential_names},
    lambda box, row: box.channels.callback_url(channels.ChannelAccountRecord(row.id, row.shop_id, row.channel, {},
                                                                             row.callback_token)),
    _channel_problem, channels.upsert_account, "channel_saved")


def _fields(cls: Any) -> list[dict[str, Any]]:
    required = tuple(getattr(cls, "credential_names", ()))
    optional = tuple(getattr(cls, "optional_credential_names", ()))
    return [{"name": name, "optional": name in optional, "secret": bool(SECRET_NAME.search(name))}
            for name in (*required, *optional)]


def _stored(request: Request, session: ConsoleSession, kind: Kind) -> list[Any]:
    table = kind.table
    with engine_for(request, session, read_only=True).connect() as conn:
        return list(conn.execute(sa.select(table).where(table.c.shop_id == session.user.shop_id)
                                 .order_by(table.c[kind.column])).all())


def _page(request: Request, session: ConsoleSession, kind: Kind, chosen: str = "", *, status_code: int = 200,
          error: str = "", detail: str = "") -> Response:
    box = container(request)
    plugins = kind.plugins(box)
    rows = _stored(request, session, kind)
    accounts = []
    for row in rows:
        name = row._mapping[kind.column]
        accounts.append({"plugin": name, "title": getattr(plugins.get(name), "title", ""),
                         "callback_url": kind.callback_url(box, row), "fields": sorted(row.credentials),
                         "updated_at": row.updated_at})
    cls = plugins.get(chosen)
    context = {"kind": kind.sub, "path": kind.path, "accounts": accounts,
               "plugins": sorted((name, getattr(c, "title", name)) for name, c in plugins.items()),
               "chosen": chosen if cls is not None else "", "fields": _fields(cls) if cls is not None else [],
               "existing": any(a["plugin"] == chosen for a in accounts)}
    return page(request, session, "settings_accounts.html", kind.sub, context, status_code=status_code,
                error=error, detail=detail)


def _save(request: Request, session: ConsoleSession, kind: Kind, form: Any) -> Response:
    box = container(request)
    plugin = str(form.get("plugin", ""))
    plugins = kind.plugins(box)
    if plugin not in plugins:
        return _page(request, session, kind, status_code=422, error="settings.accounts.unknown")
    shop_id = session.user.shop_id
    table = kind.table
    with engine_for(request, session).begin() as conn:
        row = conn.execute(sa.select(table.c.credentials).where(
            table.c.shop_id == shop_id, table.c[kind.column] == plugin)).first()
        kept = dict(row.credentials) if row is not None else {}
        credentials = {}
        for field in _fields(plugins[plugin]):
            value = str(form.get(field["name"], "")).strip()
            if value or field["name"] in kept:
                credentials[field["name"]] = value or kept[field["name"]]
        problem = kind.problem(box, shop_id, plugin, credentials)
        if problem is None:
            kind.save(conn, shop_id, plugin, credentials)
    if problem is not None:
        return _page(request, session, kind, plugin, status_code=422, error="settings.accounts.invalid",
                     detail=problem)
    return done(kind.path, kind.notice)


@router.get("/console/settings/carriers")
def carriers_page(request: Request, session: Owner,
                  plugin: Annotated[str, Query(max_length=40)] = "") -> Response:
    return _page(request, session, CARRIERS, plugin)


@router.post("/console/settings/carriers")
def save_carrier(request: Request, session: Owner, form: CheckedForm) -> Response:
    return _save(request, session, CARRIERS, form)


@router.get("/console/settings/channels")
def channels_page(request: Request, session: Owner,
                  plugin: Annotated[str, Query(max_length=40)] = "") -> Response:
    return _page(request, session, CHANNELS, plugin)


@router.post("/console/settings/channels")
def save_channel(request: Request, session: Owner, form: CheckedForm) -> Response:
    return _save(request, session, CHANNELS, form)
