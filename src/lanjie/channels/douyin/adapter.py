"""The Douyin (抖店) sales-channel adapter: read after-sales, agree or refuse them, confirm returns, pushes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from lanjie.carriers.base import Exchange
from lanjie.carriers.errors import CarrierUnavailable
from lanjie.carriers.http import CarrierHttp
from lanjie.channels.base import ApproveItem, ChannelAccount, ChannelCapability, ChannelCase, Inbound
from lanjie.channels.errors import ChannelRejected, NotSupported, RejectionKind
from lanjie.domain.states import CaseType

from . import detail, messages, wire

#: Douyin's production gateway, used when the account names no other (e.g. the sandbox).
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://openapi-fxg.jinritemai.com"}
CREDENTIAL_NAMES = ("app_key", "app_secret", "access_token", "shop_id")

#: The operate ``type`` that agrees the refund of each case type lanjie can agree through the open API.
APPROVE_TYPES: Mapping[CaseType, int] = {
    CaseType.refund_only_shipped: wire.APPROVE_REFUND_ONLY_SHIPPED,
    CaseType.return_refund: wire.APPROVE_RETURN_REFUND_RECEIVED,
}


class _DouyinHttp(CarrierHttp):
    """The shared HTTP seam, keeping the URL with its access token and signature masked.

    Douyin carries both in the query string, which the seam would otherwise record as sent.
    """

    def _record(self, operation: str, method: str, url: str, request_text: str, status_code: int | None,
                response_text: str, started: float, error: str) -> None:
        super()._record(operation, method, wire.shown_url(url), request_text, status_code, response_text,
                        started, error)


class Douyin:
    """Douyin 抖店 open platform: after-sale detail, operate, return to warehouse, evidence, message pushes."""

    name: ClassVar[str] = "douyin"
    title: ClassVar[str] = "Douyin 抖店"
    capabilities: ClassVar[frozenset[ChannelCapability]] = frozenset({
        ChannelCapability.parse_push, ChannelCapability.fetch_case, ChannelCapability.approve_refund,
        ChannelCapability.reject_refund, ChannelCapability.confirm_received, ChannelCapability.submit_evidence,
    })
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    approve_batch_limit: ClassVar[int] = 1  # one failing item fails a whole operate batch: one per call
    approve_batch_fen_limit: ClassVar[int | None] = None

    def __init__(self, account: ChannelAccount, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._credentials = {name: str(account.credentials.get(name, "")) for name in CREDENTIAL_NAMES}
        self._api = {**DEFAULT_ENDPOINTS, **account.endpoints}["api"].rstrip("/")
        self._clock = clock or (lambda: datetime.now(UTC))
        self.exchanges: list[Exchange] = []
        secrets = [self._credentials["app_secret"], self._credentials["access_token"]]
        self._http = _DouyinHttp(self.name, client, secrets, self.exchanges)

    # -- pushes -------------------------------------------------------------------------------------

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str]) -> Inbound:
        """Verify (``event-sign``, ``app-id``; failing closed) and parse a message push."""
        return messages.parse(body, headers, app_key=self._credentials["app_key"],
                              app_secret=self._credentials["app_secret"], shop_id=self._credentials["shop_id"])

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """``{"code":1,"msg":"fail"}``: Douyin pushes the message again later."""
        return messages.reject_ack()

    # -- operations ---------------------------------------------------------------------------------

    async def fetch_case(self, ref: str) -> ChannelCase:
        """The after-sale as ``/afterSale/Detail`` shows it now."""
        data = await self._call("fetch_case", wire.DETAIL, wire.detail_params(ref))
        try:
            case = detail.parse_case(data)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"douyin {wire.DETAIL}: malformed answer: {exc}") from exc
        if case.ref != ref:  # never let another case's version and status stand for this one
            raise CarrierUnavailable(f"douyin {wire.DETAIL}: asked for {ref}, answered {case.ref}")
        return case

    async def approve_refunds(self, items: Sequence[ApproveItem]) -> list[Exception | None]:
        """Agree each refund in its own operate call (201 refund-only after shipment, 111 return and refund).

        Each call carries the case's ``update_time``, so a case that moved is refused as stale, and a
        repeat after an unknown outcome is refused too once the first one took effect. Douyin's operate
        has no refund number: ``refund_no`` stays lanjie's. Per item: None, or the error it met.
        """
        results: list[Exception | None] = []
        for item in items:
            try:
                await self._approve(item.case)
            except (ChannelRejected, CarrierUnavailable) as exc:
                results.append(exc)
            else:
                results.append(None)
        return results

    async def reject_refund(self, case: ChannelCase, *, reason_code: str, reason: str,
                            evidence: Sequence[str] = ()) -> None:
        """Refuse a refund-only request after shipment (operate 202) with a reason code and image evidence."""
        item = wire.reject_item(case.ref, case.version, reason_code=reason_code, reason=reason, evidence=evidence)
        await self._operate("reject_refund", wire.REJECT_REFUND_ONLY_SHIPPED, case.ref, item)

    async def commit_intercept(self, case: ChannelCase) -> None:
        """Douyin has no seller commitment to intercept: its own intercept API is the carrier side's job."""
        raise NotSupported("douyin has no intercept commitment; lanjie intercepts with the carrier directly")

    async def confirm_received(self, case: ChannelCase, *, received_at: datetime,
                               waybill_no: str = "", company_code: str = "") -> None:
        """The returned goods passed inspection (``returnGoodsToWareHouseSuccess``); with a matching
        after-sales assistant strategy the platform then refunds by itself (11002: no strategy set up)."""
        params = wire.to_warehouse_params(case.ref, received_at, waybill_no=waybill_no, company_code=company_code)
        await self._call("confirm_received", wire.TO_WAREHOUSE, params)

    async def submit_evidence(self, case: ChannelCase, *, text: str, evidence: Sequence[str] = ()) -> None:
        """Evidence for an arbitration (``submitEvidence``: a comment and at most four image URLs)."""
        await self._call("submit_evidence", wire.SUBMIT_EVIDENCE,
                         wire.evidence_params(case.ref, text=text, evidence=evidence))

    # -- plumbing -----------------------------------------------------------------------------------

    async def _approve(self, case: ChannelCase) -> None:
        operation_type = APPROVE_TYPES.get(case.type)
        if operation_type is None:
            raise ChannelRejected("type", f"douyin cannot agree a {case.type} case through the open API",
                                  RejectionKind.needs_person)
        await self._operate("approve_refund", operation_type, case.ref, wire.approve_item(case.ref, case.version))

    async def _operate(self, operation: str, operation_type: int, ref: str, item: Mapping[str, Any]) -> None:
        data = await self._call(operation, wire.OPERATE, wire.operate_params(operation_type, item))
        try:
            wire.check_operated(data, ref)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"douyin {wire.OPERATE}: malformed answer: {exc}") from exc

    async def _call(self, operation: str, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """POST the signed ``param_json``; the answer's ``data`` when it says success, else raise."""
        missing = [name for name in CREDENTIAL_NAMES if not self._credentials[name]]
        if missing:
            raise ChannelRejected("config", f"douyin {operation} needs credentials: {', '.join(missing)}",
                                  RejectionKind.auth)
        param_json = wire.dumps(params)
        url = wire.request_url(self._api, method, app_key=self._credentials["app_key"],
                               app_secret=self._credentials["app_secret"],
                               access_token=self._credentials["access_token"], param_json=param_json,
                               at=self._clock())
        response = await self._http.send(operation, "POST", url, content=param_json.encode("utf-8"),
                                         headers={"Content-Type": wire.JSON_MEDIA_TYPE})
        answer = self._http.json_object(operation, response)
        try:
            return wire.answer_data(method, answer)
        except wire.PayloadError as exc:
            raise CarrierUnavailable(f"douyin {method}: malformed answer: {exc}") from exc
