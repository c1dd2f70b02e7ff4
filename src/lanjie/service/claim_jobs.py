"""Job handlers of the way back: stall checks, filing claims online, and following the carrier's review.

Same discipline as the other handlers: read in one transaction, call the carrier outside any, write the
result with the job's completion. A filing whose answer was lost is sent again with the same request id
(lanjie's claim id), which the carrier can recognise; the claim itself is only ``filed`` on an answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from lanjie.carriers.base import Carrier, ClaimAttachment, ClaimRequest
from lanjie.carriers.errors import CarrierError, CarrierUnavailable
from lanjie.domain.claims import Claim
from lanjie.domain.states import ClaimStatus
from lanjie.files.store import FileStore
from lanjie.service import claim_packet, claims, returns, shops
from lanjie.service.carriers import CarrierGateway
from lanjie.service.ids import utcnow
from lanjie.service.jobbase import JobHandlers
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.service.workflows import Workflows
from lanjie.store import jobs
from lanjie.store.jobs import PermanentJobError

log = logging.getLogger("lanjie.claim_jobs")
T = TypeVar("T")
#: Where following a claim stops: the carrier has said its last word, or lanjie has.
_FINAL = frozenset({ClaimStatus.rejected, ClaimStatus.paid, ClaimStatus.closed})
MAX_POLLS = 120


class ClaimJobs(JobHandlers):
    """The handlers, bound to the database, the carrier gateway and the carrier workflows they extend."""

    def __init__(self, engine: sa.Engine, gateway: CarrierGateway, workflows: Workflows, files: FileStore | None = None,
                 on_commit: Callable[[], None] | None = None, now: Callable[[], datetime] = utcnow) -> None:
        self.engine, self.gateway, self.workflows, self.on_commit, self.now = engine, gateway, workflows, on_commit, now
        self.files = files
        self.settings = gateway.settings
        workflows.after_change.append(lambda u, case: returns.start_legs(u, case, self.settings))

    def handlers(self) -> dict[str, Callable[[jobs.Job], Any]]:
        return {returns.CHECK_STALLED: self.check_stalled, claims.FILE_CLAIM: self.file_claim,
                claims.POLL_CLAIM: self.poll_claim}

    # ------------------------------------------------------------------ return.stall_check
    async def check_stalled(self, job: jobs.Job) -> None:
        p = job.payload

        def run() -> None:
            with self.uow(p["shop_id"]) as u:
                returns.check_stalled(u, p["shop_id"], p["leg_id"], self.settings)
                self._finish(u, job)

        await self._db(run)

    # ------------------------------------------------------------------ claim.file / claim.poll
    def _adapter(self, u: UnitOfWork, claim: Claim) -> tuple[Carrier, str]:
        plugin, _, courier = claim.carrier.partition(":")
        via = self.gateway.claim_plugin(plugin, courier)
        account = shops.account_for(u.conn, claim.shop_id, via) if via else None
        if via is None or account is None:
            raise PermanentJobError(f"no account to file {claim.carrier} claims online for shop {claim.shop_id}")
        return self.gateway.adapter(account), self.gateway.callback_url(account)

    def _attachments(self, u: UnitOfWork, claim: Claim) -> tuple[ClaimAttachment, ...]:
        """The claim packet (its PDF is the proof of value: the order, its goods, the tracking) and the
        inspection photos (a damage needs them)."""
        inputs = claim_packet.load(u.conn, shop_id=claim.shop_id, claim_id=claim.id)
        contents = claim_packet.image_contents(self.files, inputs.files) if self.files is not None else {}
        pdf = claim_packet.packet_pdf(inputs.claim, inputs.case, inputs.shipment, inputs.files, contents=contents,
                                      generated_at=u.now, leg=inputs.leg)
        found = [ClaimAttachment(name=f"claim-{claim.id}.pdf", media_type="application/pdf", content=pdf,
                                 kind="proof_of_value")]
        for meta in inputs.files:
            data = contents.get(meta.id) if meta.id in contents else (
                self.files.read(meta.storage_key) if self.files is not None else None)
            if data is not None:
                found.append(ClaimAttachment(name=meta.name or meta.id, media_type=meta.media_type, content=data,
                                             kind="photo" if meta.media_type.startswith("image/") else "document"))
        return tuple(found)

    def _keep(self, u: UnitOfWork, claim: Claim, adapter: Carrier) -> None:
        u.record_exchanges(shop_id=claim.shop_id, carrier=type(adapter).name, aftersale_id=claim.aftersale_id,
                           subject_id=claim.id, exchanges=adapter.exchanges)
        adapter.exchanges.clear()

    def _keep_only(self, shop_id: str, claim: Claim, adapter: Carrier) -> None:
        with self.uow(shop_id) as u:
            self._keep(u, claim, adapter)
            u.commit()

    async def file_claim(self, job: jobs.Job) -> None:
        """File a drafted claim with the carrier's API; its number comes back and following begins."""
        p = job.payload

        def load() -> tuple[Claim, Carrier, ClaimRequest] | None:
            with self.uow(p["shop_id"]) as u:
                loaded = claims.Loaded(u, p["shop_id"], p["claim_id"])
                claim = loaded.claim
                if claim.status != ClaimStatus.draft:
                    self._finish(u, job)
                    return None
                adapter, callback = self._adapter(u, claim)
                shipment = u.shipment(claim.shop_id, claim.shipment_id)
                assert shipment is not None
                request = ClaimRequest(
                    request_id=claim.id, carrier_code=shipment.carrier_code, waybill_no=claim.waybill_no,
                    type=claim.type, amount_minor=claim.amount_fen, goods_value_minor=claims.goods_value(shipment),
                    currency=currency_of(shipment.carrier),
                    description=_description(claim), callback_url=callback, contact_name=shipment.sender.name,
                    contact_phone=shipment.sender.phone, attachments=self._attachments(u, claim))
                return claim, adapter, request

        loaded = await self._db(load)
        if loaded is None:
            return
        claim, adapter, request = loaded
        try:
            ack = await adapter.file_claim(request)
        except CarrierError:
            await self._db(lambda: self._keep_only(p["shop_id"], claim, adapter))
            raise

        def record() -> None:
            with self.uow(p["shop_id"]) as u:
                current = claims.Loaded(u, p["shop_id"], p["claim_id"])
                self._keep(u, current.claim, adapter)
                if ack.accepted and current.claim.status == ClaimStatus.draft:
                    current.claim.file(u.now, via="online", carrier_ref=ack.claim_ref or "", message=ack.message)
                    self._poll_later(u, current.claim, 0)
                elif not ack.accepted:
                    current.claim.filing_refused(ack.message)
                current.save()
                self._finish(u, job)

        await self._db(record)

    def _poll_later(self, u: UnitOfWork, claim: Claim, n: int) -> None:
        u.enqueue(claims.POLL_CLAIM, {"shop_id": claim.shop_id, "claim_id": claim.id, "n": n},
                  key=f"claim-poll:{claim.id}:{n}", shop_id=claim.shop_id,
                  run_at=u.now + timedelta(seconds=self.settings.claim_poll_seconds))

    async def poll_claim(self, job: jobs.Job) -> None:
        """Ask the carrier where its review stands, and come back later until it has said its last word."""
        p = job.payload

        def load() -> tuple[Claim, Carrier] | None:
            with self.uow(p["shop_id"]) as u:
                claim = claims.Loaded(u, p["shop_id"], p["claim_id"]).claim
                if claim.status in _FINAL or not claim.carrier_ref:
                    self._finish(u, job)
                    return None
                return claim, self._adapter(u, claim)[0]

        loaded = await self._db(load)
        if loaded is None:
            return
        claim, adapter = loaded
        plugin, _, courier = claim.carrier.partition(":")
        try:
            state = await adapter.claim_status(courier, claim.waybill_no, claim.carrier_ref)
        except CarrierUnavailable:
            await self._db(lambda: self._keep_only(p["shop_id"], claim, adapter))
            raise
        except CarrierError as exc:  # a refusal to answer is kept; the next poll asks again
            log.warning("claim %s status: %s", claim.id, exc)
            state = None

        def record() -> None:
            with self.uow(p["shop_id"]) as u:
                current = claims.Loaded(u, p["shop_id"], p["claim_id"])
                self._keep(u, current.claim, adapter)
                if state is not None:
                    claims.apply_state(current.claim, state)
                current.save()
                n = int(p.get("n", 0)) + 1
                if current.claim.status not in _FINAL and n < MAX_POLLS:
                    self._poll_later(u, current.claim, n)
                self._finish(u, job)

        await self._db(record)


def _description(claim: Claim) -> str:
    kind = {"loss": "丢失 lost", "damage": "破损 damaged", "short": "少件 items missing"}[claim.type]
    return (f"拦截退回途中{kind.split()[0]} / intercepted parcel {kind.split(' ', 1)[1]} on its way back: "
            f"waybill {claim.waybill_no}, {claim.basis.get('explained', '')}")[:500]


#: The currency a carrier's parcels are valued in (lanjie keeps minor units; the plugin name tells which).
_CURRENCIES = {"ups": "USD"}


def currency_of(carrier: str) -> str:
    return _CURRENCIES.get(carrier, "CNY")
