"""The carrier's own word in an intercept preview: eligibility, fee and who pays (UPS eligibility and
charges, SF's route-based check, JD's trace), asked live when the merchant opens the 拦截 dialog.

A carrier that is slow or down must not block the dialog: each check has ``PRECHECK_SECONDS`` and a
failure is shown as ``unavailable`` with the error. Every exchange is stored on the case timeline.
"""

from __future__ import annotations

from typing import Any

import anyio

from lanjie.carriers.base import InterceptRequest, Precheck
from lanjie.carriers.errors import CarrierError
from lanjie.domain.states import InterceptType
from lanjie.service import shops
from lanjie.service.carriers import CarrierGateway
from lanjie.service.unit_of_work import UnitOfWork

PRECHECK_SECONDS = 3.0


def _view(check: Precheck) -> dict[str, Any]:
    return {"status": "answered", "eligible": check.eligible, "reason": check.reason,
            "fee_minor": check.fee_minor, "currency": check.currency, "payer": check.payer,
            "fee_when": check.fee_when, "message": check.message, "types": sorted(check.types)}


async def add_carrier_checks(gateway: CarrierGateway, engine: Any, shop_id: str, case_id: str,
                             parcels: list[dict[str, Any]], now: Any) -> None:
    """Ask each parcel's carrier (where it can answer) and fold the answer into the preview rows."""

    def accounts() -> dict[str, shops.AccountRecord | None]:
        with engine.connect() as conn:
            plugins = {gateway.intercept_plugin(p["carrier"].partition(":")[0]) for p in parcels}
            return {plugin: shops.account_for(conn, shop_id, plugin) for plugin in plugins}

    found = await anyio.to_thread.run_sync(accounts)
    exchanges: list[tuple[str, str, list[Any]]] = []
    for parcel in parcels:
        plugin_name, _, courier = parcel["carrier"].partition(":")
        parcel["intercept_types"] = sorted(gateway.offered_types(plugin_name))
        plugin = gateway.intercept_plugin(plugin_name)
        account = found.get(plugin)
        if not gateway.can_precheck(plugin_name) or account is None:
            continue
        adapter = gateway.adapter(account)
        request = InterceptRequest(request_id="preview", carrier_code=courier, waybill_no=parcel["waybill_no"],
                                   intercept_type=InterceptType.return_to_sender, callback_url="",
                                   phone_tail=parcel["phone_tail"])
        try:
            with anyio.fail_after(PRECHECK_SECONDS):
                check = await adapter.precheck(request)
        except (CarrierError, TimeoutError) as exc:
            parcel["carrier_check"] = {"status": "unavailable", "message": str(exc) or type(exc).__name__}
        else:
            parcel["carrier_check"] = _view(check)
            if check.fee_minor is not None and check.currency == "CNY":
                parcel["fee_fen"] = check.fee_minor
            if check.payer is not None:
                parcel["fee_payer"] = check.payer
            if check.eligible is False and parcel["can_intercept"]:
                parcel["can_intercept"], parcel["reason"] = False, check.reason or "not_supported"
        exchanges.append((plugin, parcel["shipment_id"], list(adapter.exchanges)))

    def record() -> None:
        with UnitOfWork(engine, now) as u:
            for plugin, shipment_id, items in exchanges:
                u.record_exchanges(shop_id=shop_id, carrier=plugin, aftersale_id=case_id, subject_id=shipment_id,
                                   exchanges=items)
            u.commit()

    if any(items for _, _, items in exchanges):
        await anyio.to_thread.run_sync(record)
