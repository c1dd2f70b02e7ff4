"""Reconciliation through the API: JSON by default, CSV on Accept or at /v1/reconciliation.csv, one shop only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lanjie.api.routes import reconciliation
from lanjie.domain.returns import ReceivedItem
from lanjie.domain.states import ClaimStatus, Inspection
from lanjie.service import claims
from tests.api.conftest import Api
from tests.service.test_reconciliation import at, day, intercepted, received

HEADER = ("month,carrier,filed_count,filed_fen,approved_count,approved_fen,paid_count,paid_fen,rejected_count,"
          "rejected_fen,open_0_7_count,open_0_7_fen,open_8_30_count,open_8_30_fen,open_31_90_count,open_31_90_fen,"
          "open_over_90_count,open_over_90_fen,intercept_fee_count,intercept_fees_fen,intercept_fees_other")


@pytest.fixture
def claimed(api: Api) -> Api:
    """Shop A, November 2026: a short parcel (the cup, 20.00) claimed, filed 6 Nov, approved 20.00 on 12 Nov
    and paid on 20 Nov; its intercept cost 3.00."""
    engine, settings, shop_id = api.container.engine, api.container.settings, api.a.shop_id
    p = intercepted(engine, settings, shop_id, "ZT6001", at=day(11, 1), fee={"amount_minor": 300, "currency": "CNY"})
    claim_id = received(engine, settings, shop_id, p, day(11, 5), Inspection.short, [ReceivedItem("CUP", 1, 0)])
    assert claim_id is not None
    at(engine, day(11, 6), lambda u: claims.file(u, shop_id, claim_id, via="packet", online=False))
    at(engine, day(11, 12), lambda u: claims.carrier_said(u, shop_id, claim_id, ClaimStatus.approved,
                                                          approved_fen=2000))
    at(engine, day(11, 20), lambda u: claims.record_payout(u, shop_id, claim_id, amount_fen=2000,
                                                           reference="BANK-1", paid_at=day(11, 20)))
    return api


def get(api: Api, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    return api.client.get(path, params=params, headers={**api.a.headers(), **(headers or {})})


def test_the_month_as_json_per_carrier_with_totals(claimed: Api) -> None:
    r = get(claimed, "/v1/reconciliation", month="2026-11")
    assert (r.status_code, r.headers["content-type"]) == (200, "application/json")
    answer = reconciliation.ReconciliationOut.model_validate(r.json()).model_dump(by_alias=True)
    kuaidi100 = {"carrier": "kuaidi100", "filed": {"count": 1, "amount_fen": 2000},
                 "approved": {"count": 1, "amount_fen": 2000}, "paid": {"count": 1, "amount_fen": 2000},
                 "rejected": {"count": 0, "amount_fen": 0},
                 "open_by_age": {name: {"count": 0, "amount_fen": 0}
                                 for name in ("days_0_7", "days_8_30", "days_31_90", "days_over_90")},
                 "intercept_fees": {"count": 1, "amount_fen": 300, "other_minor": {}}}
    as_of = datetime.fromisoformat(answer.pop("open_as_of"))  # the month's end, or now while it lasts
    assert as_of == min(datetime(2026, 11, 30, 16, tzinfo=UTC), as_of.astimezone(UTC)) and as_of > day(11, 20)
    assert answer == {"month": "2026-11", "time_zone": "Asia/Shanghai", "from": "2026-10-31T16:00:00+00:00",
                      "to": "2026-11-30T16:00:00+00:00", "carrier": None, "carriers": [kuaidi100],
                      "total": {**kuaidi100, "carrier": "total"}}


def test_accept_text_csv_and_the_csv_path_give_the_same_file_with_a_bom(claimed: Api) -> None:
    by_accept = get(claimed, "/v1/reconciliation", {"Accept": "text/csv"}, month="2026-11")
    by_path = get(claimed, "/v1/reconciliation.csv", month="2026-11", carrier="kuaidi100")
    assert by_accept.status_code == by_path.status_code == 200
    assert by_accept.headers["content-type"] == "text/csv; charset=utf-8"
    assert by_accept.headers["content-disposition"] == 'attachment; filename="reconciliation-2026-11.csv"'
    assert by_path.headers["content-disposition"] == 'attachment; filename="reconciliation-2026-11-kuaidi100.csv"'
    assert by_accept.content == by_path.content
    assert by_accept.content.decode("utf-8") == "\ufeff" + "\r\n".join([
        HEADER, "2026-11,kuaidi100,1,2000,1,2000,1,2000,0,0,0,0,0,0,0,0,0,0,1,300,",
        "2026-11,total,1,2000,1,2000,1,2000,0,0,0,0,0,0,0,0,0,0,1,300,", ""])


def test_another_shop_sees_none_of_it(claimed: Api) -> None:
    r = claimed.client.get("/v1/reconciliation", params={"month": "2026-11"}, headers=claimed.b.headers())
    assert (r.status_code, r.json()["carriers"], r.json()["total"]["filed"]) == (
        200, [], {"count": 0, "amount_fen": 0})


def test_without_a_month_it_is_the_current_one_in_shanghai(api: Api) -> None:
    before = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    r = get(api, "/v1/reconciliation")
    after = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    assert r.status_code == 200 and r.json()["month"] in {before, after}


@pytest.mark.parametrize(("params", "field"), [
    ({"month": "2026-13"}, "query.month"), ({"month": "November"}, "query.month"),
    ({"carrier": "Kuaidi 100"}, "query.carrier")])
def test_a_malformed_month_or_carrier_is_422_naming_it(api: Api, params: dict[str, str], field: str) -> None:
    r = get(api, "/v1/reconciliation", **params)
    assert (r.status_code, r.headers["content-type"], r.json()["errors"][0]["field"]) == (
        422, "application/problem+json", field)


def test_without_a_key_it_is_401(api: Api) -> None:
    assert api.client.get("/v1/reconciliation.csv").status_code == 401
