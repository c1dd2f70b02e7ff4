"""Parcels: register a shipped parcel, read it back."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from lanjie.api import views
from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent
from lanjie.api.problems import Problem
from lanjie.api.responses import PROBLEMS, ShipmentOut
from lanjie.api.schemas import ObjectId, ShipmentIn
from lanjie.carriers.registry import UnknownCarrier, resolve
from lanjie.domain.errors import NotFound
from lanjie.domain.model import Item, Party
from lanjie.service import commands
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1/shipments", tags=["shipments"])
Shop = Annotated[str, Depends(current_shop)]


@router.post("", status_code=201, summary="Register a shipped parcel (lanjie subscribes to its tracking)",
             response_model=ShipmentOut, responses=PROBLEMS)
async def register(body: ShipmentIn, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    try:
        carrier, code = resolve(body.carrier)
    except UnknownCarrier:
        raise
    except ValueError as exc:
        raise Problem(422, "Unknown carrier", str(exc), type_="/problems/unknown-carrier", field="carrier") from None
    cmd = commands.NewShipment(
        carrier=carrier, carrier_code=code, waybill_no=body.waybill_no, order_id=body.order_id,
        items=[Item(**i.model_dump()) for i in body.items], value_fen=body.value_fen, freight_fen=body.freight_fen,
        insured_fen=body.insured_fen, sender=Party(**body.sender.model_dump()),
        recipient=Party(**body.recipient.model_dump()))
    container = request.app.state.container
    return await idempotent(request, shop_id, 201,
                            lambda uow: views.shipment(commands.register_shipment(uow, shop_id, cmd)),
                            on_commit=container.wake)


@router.get("/{shipment_id}", summary="A parcel with its tracking history", response_model=ShipmentOut,
            responses=PROBLEMS)
async def get(shipment_id: ObjectId, request: Request, shop_id: Shop) -> Any:
    def read() -> Any:
        with UnitOfWork(request.app.state.container.for_shop(shop_id, read_only=True), utcnow(),
                        read_only=True) as uow:
            s = uow.shipment(shop_id, shipment_id)
            if s is None:
                raise NotFound("shipment", shipment_id)
            return JSONResponse(views.shipment(s))
    return await anyio.to_thread.run_sync(read)
