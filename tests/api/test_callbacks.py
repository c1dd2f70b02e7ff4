"""Carrier pushes: verified over the raw bytes, refused when forged or unsigned, processed once."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from lanjie.carriers.base import Capability
from lanjie.carriers.registry import load_carriers
from lanjie.service import shops
from lanjie.store import tables as t
from tests.api.conftest import Api
from tests.e2e.live import K100_SALT

ACK = {"result": True, "returnCode": "200", "message": "成功"}


def _tracking_param(waybill: str = "ZT600000001") -> str:
    scan = {"context": "【杭州】已发出", "time": "2026-11-20 10:00:00", "ftime": "2026-11-20 10:00:00",
            "status": "在途", "areaCode": "", "areaName": "", "statusCode": "1002"}
    last = {"message": "ok", "state": "0", "status": "200", "condition": "F00", "ischeck": "0", "com": "zto",
            "nu": waybill, "data": [scan]}
    push = {"status": "polling", "billstatus": "", "message": "", "autoCheck": "0", "comOld": "", "comNew": "",
            "lastResult": last}
    return json.dumps(push, ensure_ascii=False, separators=(",", ":"))


def _form(param: str, salt: str = K100_SALT, sign: str | None = None) -> bytes:
    sign = sign if sign is not None else hashlib.md5((param + salt).encode()).hexdigest().upper()
    return urlencode({"param": param, "sign": sign}).encode()


def _push(api: Api, token: str, body: bytes) -> object:
    return api.client.post(f"/v1/carriers/kuaidi100/callbacks/{token}", content=body,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_signed_push_is_stored_with_its_job_and_acknowledged(api: Api) -> None:
    before = api.counts()
    r = _push(api, api.a.token, _form(_tracking_param()))
    assert r.status_code == 200 and r.json() == ACK
    after = api.counts()
    assert (after["inbox"] - before["inbox"], after["jobs"] - before["jobs"]) == (1, 1)
    with api.container.engine.connect() as conn:
        row = conn.execute(sa.select(t.inbox)).one()
        job = conn.execute(sa.select(t.jobs).where(t.jobs.c.kind == "inbox.process")).one()
    assert (row.shop_id, row.carrier) == (api.a.shop_id, "kuaidi100")
    assert job.payload == {"shop_id": api.a.shop_id, "inbox_id": row.id}


def test_replayed_push_is_acknowledged_but_not_processed_again(api: Api) -> None:
    body = _form(_tracking_param("ZT600000002"))
    assert _push(api, api.a.token, body).status_code == 200
    before = api.counts()
    r = _push(api, api.a.token, body)
    assert r.status_code == 200 and r.json() == ACK
    assert api.counts() == before


def test_forged_or_unsigned_push_is_refused_and_nothing_is_stored(api: Api) -> None:
    param = _tracking_param("ZT600000003")
    before = api.counts()
    for body in (_form(param, salt="wrong-salt"), _form(param, sign=""),
                 urlencode({"param": param}).encode(), _form(param.replace("1002", "1001"), sign=None)[:-3] + b"AAA"):
        r = _push(api, api.a.token, body)
        assert r.status_code == 401, (body, r.text)
        assert r.json()["type"] == "/problems/signature-invalid"
    # Another shop's token with this shop's salt: B's salt is the same value here, but the push
    # lands in B's inbox, never A's — the token, not the body, decides the shop.
    assert api.counts() == before


def test_push_to_an_unknown_token_answers_404(api: Api) -> None:
    before = api.counts()
    r = _push(api, "0" * 32, _form(_tracking_param()))
    assert r.status_code == 404
    r = api.client.post(f"/v1/carriers/sf/callbacks/{api.a.token}", content=_form(_tracking_param()),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 404
    assert api.counts() == before


def test_push_for_an_account_without_a_salt_is_refused(api: Api) -> None:
    with api.container.engine.begin() as conn:
        shops.upsert_carrier_account(conn, api.b.shop_id, "kuaidi100",
                                     {"key": "K", "customer": "C", "secret": "S", "salt": ""})
    before = api.counts()
    r = _push(api, api.b.token, _form(_tracking_param(), salt=""))
    assert r.status_code == 401
    assert api.counts() == before


@pytest.mark.parametrize("plugin", sorted(load_carriers()))
def test_junk_pushes_to_every_carrier_plugin_are_refused_as_problems(api: Api, plugin: str) -> None:
    cls = load_carriers()[plugin]
    with api.container.engine.begin() as conn:
        token = shops.upsert_carrier_account(conn, api.b.shop_id, plugin,
                                             {n: "x" * 40 for n in cls.credential_names}).callback_token
    pushes = Capability.parse_push in cls.capabilities
    before = api.counts()
    for content_type, body in (("application/x-www-form-urlencoded", b"param=%7B%7D&sign=AAAA"),
                               ("application/json", b"{}"), ("text/plain", b"\xff\xfe junk")):
        r = api.client.post(f"/v1/carriers/{plugin}/callbacks/{token}", content=body,
                            headers={"Content-Type": content_type})
        assert r.headers["content-type"] == "application/problem+json", (plugin, r.text)
        if pushes:
            assert r.status_code in (400, 401), (plugin, r.text)
        else:
            assert (r.status_code, r.json()["type"]) == (404, "/problems/carrier-sends-no-pushes")
            assert r.json()["detail"] == f"carrier {plugin} sends no pushes: lanjie polls it instead"
    assert api.counts() == before


def test_carriers_without_pushes_are_known_to_this_test() -> None:
    # The parametrised test above covers both kinds; this pins which plugins are the "no pushes" kind.
    assert sorted(n for n, c in load_carriers().items() if Capability.parse_push not in c.capabilities) == \
        ["jd", "ups"]


def test_an_oversized_push_is_refused_before_it_is_read_whole(api: Api) -> None:
    before = api.counts()
    # The headers alone, over a raw socket: the answer comes though none of the 50 MB was sent.
    host, port = api.client.base_url.host, api.client.base_url.port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(f"POST /v1/carriers/kuaidi100/callbacks/{'0' * 32} HTTP/1.1\r\nHost: {host}\r\n"
                     f"Content-Type: application/x-www-form-urlencoded\r\n"
                     f"Content-Length: {50 * 1024 * 1024}\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if answer.endswith(b"}"):  # the problem's JSON closes the answer
                break
    head, body = answer.decode().split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 413 ") and "content-type: application/problem+json" in head.lower()
    assert json.loads(body)["type"] == "/problems/push-too-large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while reading
        yield b"param="
        for _ in range(8):
            yield b"x" * 64 * 1024

    streamed = api.client.post(f"/v1/carriers/kuaidi100/callbacks/{api.a.token}", content=chunks(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (streamed.status_code, streamed.json()["type"]) == (413, "/problems/push-too-large")
    assert streamed.headers["content-type"] == "application/problem+json"
    assert api.counts() == before
