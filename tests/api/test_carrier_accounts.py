"""Carrier accounts through the API: each plugin's credentials checked by name, never answered back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lanjie.store import tables as t
from tests.api.conftest import Api

SF = {"partner_id": "SFPARTNER9", "check_word": "check-word-never-shown-0042"}


def test_an_account_is_stored_and_its_credentials_never_come_back(api: Api) -> None:
    r = api.client.post("/v1/carrier-accounts", json={"carrier": "sf", "credentials": SF},
                        headers=api.a.headers("acct-sf-0000000001"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "carrier", "credential_fields", "callback_url"}
    assert (body["carrier"], body["credential_fields"]) == ("sf", ["check_word", "partner_id"])
    assert body["callback_url"].startswith("http://") and "/v1/carriers/sf/callbacks/" in body["callback_url"]
    listed = api.client.get("/v1/carrier-accounts", headers=api.a.headers()).text
    for secret in SF.values():
        assert secret not in r.text and secret not in listed
    with api.container.engine.connect() as conn:
        stored = conn.execute(sa.select(t.carrier_accounts).where(t.carrier_accounts.c.carrier == "sf")).one()
    assert stored.shop_id == api.a.shop_id


@pytest.mark.parametrize(("body", "detail", "field"), [
    ({"carrier": "sf", "credentials": {"partner_id": "P"}}, "credentials.check_word is required",
     "credentials.check_word"),
    ({"carrier": "sf", "credentials": {**SF, "checkword": "typo"}},
     "credentials.checkword is not a credential of sf (it takes partner_id, check_word, monthly_card_no (optional))",
     "credentials.checkword"),
    ({"carrier": "ups", "credentials": {"client_id": "c", "client_secret": "s"}},
     "credentials.account_number is required", "credentials.account_number"),
    ({"carrier": "kuaidi100", "credentials": {"key": "k", "customer": "c", "secret": "s", "salt": "short"}},
     "credentials.salt must be at least 32 characters: pushes are verified with it", "credentials.salt"),
    ({"carrier": "fedex", "credentials": {"k": "v"}},
     "unknown carrier 'fedex'; known: jd, jtexpress, kdniao, kuaidi100, sf, sto, ups, yunda, zto", "carrier"),
])
def test_wrong_credentials_are_refused_naming_the_field_and_nothing_is_stored(
        api: Api, body: dict, detail: str, field: str) -> None:
    with api.container.engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(t.carrier_accounts)).scalar_one()
    r = api.client.post("/v1/carrier-accounts", json=body, headers=api.a.headers("acct-bad-000000001"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert (r.json()["detail"], r.json()["field"]) == (detail, field)
    with api.container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.carrier_accounts)).scalar_one() == before
