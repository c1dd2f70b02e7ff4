"""The Taobao / Tmall channel adapter: refunds through TOP, messages through the TMC relay."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx

from lanjie.carriers.base import Exchange
from lanjie.carriers.http import CarrierHttp
from lanjie.channels.base import ApproveItem, ChannelAccount, ChannelCapability, ChannelCase, Inbound
from lanjie.channels.errors import CarrierTimeout, CarrierUnavailable, ChannelRejected, NotSupported, RejectionKind

from . import approve, cases, messages, wire

#: TOP's production gateway, used when the account names no other (e.g. the sandbox).
DEFAULT_ENDPOINTS: Mapping[str, str] = {"api": "https://eco.taobao.com"}
CREDENTIAL_NAMES = ("app_key", "app_secret", "session", "seller_nick", "platform")
#: Approval limits per call by the account's ``platform`` credential (sales-platforms.md §2.1).
PLATFORM_LIMITS: Mapping[str, approve.Limits] = {
    "taobao": approve.Limits(count=20, fen=600_000),
    "tmall": approve.Limits(count=30, fen=1_000_000),
}
#: How many times fetch_case reads a refund that moves between its two reads before it settles for less.
_READ_ATTEMPTS = 2
_REFUSE_MESSAGE_CHARS = (2, 200)  # taobao.refund.refuse: 拒绝退款时的说明信息，长度2-200
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


class Taobao:
    """Taobao and Tmall (淘宝 / 天猫) through the TOP open platform.

    The class limits are Taobao's (20 refunds, 600,000 fen per approval call); an account whose
    ``platform`` credential is ``tmall`` gets Tmall's (30, 1,000,000 fen) on the instance, in
    ``batch_limit`` / ``batch_fen_limit``, and approve_refunds applies those.
    """

    name: ClassVar[str] = "taobao"
    title: ClassVar[str] = "Taobao / Tmall 淘宝/天猫"
    capabilities: ClassVar[frozenset[ChannelCapability]] = frozenset({
        ChannelCapability.parse_push, ChannelCapability.fetch_case, ChannelCapability.approve_refund,
        ChannelCapability.reject_refund, ChannelCapability.commit_intercept,
    })
    credential_names: ClassVar[tuple[str, ...]] = CREDENTIAL_NAMES
    endpoint_names: ClassVar[tuple[str, ...]] = ("api",)
    approve_batch_limit: ClassVar[int] = PLATFORM_LIMITS["taobao"].count
    approve_batch_fen_limit: ClassVar[int | None] = PLATFORM_LIMITS["taobao"].fen

    def __init__(self, account: ChannelAccount, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = _now) -> None:
        """Raise ChannelRejected(invalid) for a ``platform`` other than taobao or tmall (empty means taobao)."""
        self._credentials = {name: str(account.credentials.get(name, "")).strip() for name in CREDENTIAL_NAMES}
        platform = self._credentials["platform"].lower() or "taobao"
        limits = PLATFORM_LIMITS.get(platform)
        if limits is None:
            raise ChannelRejected("config", f"the taobao platform credential must be taobao or tmall, not "
                                  f"{self._credentials['platform']!r}", RejectionKind.invalid)
        self.platform, self.batch_limit, self.batch_fen_limit = platform, limits.count, limits.fen
        self._api = {**DEFAULT_ENDPOINTS, **account.endpoints}["api"].rstrip("/")
        self._clock = clock
        self.exchanges: list[Exchange] = []
        secrets = [self._credentials[name] for name in ("app_key", "app_secret", "session")]
        self._http = CarrierHttp(self.name, client, secrets, self.exchanges)

    # -- messages -----------------------------------------------------------------------------------

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str]) -> Inbound:
        """Verify (failing closed: SignatureInvalid) and read a TMC relay delivery."""
        return messages.parse(body, {name.lower(): value for name, value in headers.items()},
                              app_key=self._credentials["app_key"], app_secret=self._credentials["app_secret"])

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        """Body and media type to answer a delivery that failed verification."""
        return messages.reject_ack()

    # -- reading --------------------------------------------------------------------------------------

    async def fetch_case(self, ref: str) -> ChannelCase:
        """The refund now: ``taobao.refund.get`` for its fields, ``taobao.refund.detail.get`` for what is allowed.

        The allowed operations belong to the version they were read at: when the refund moved between
        the two reads it is read again, and if it keeps moving the case says intercept is not allowed
        (the commitment would be refused as stale anyway).
        """
        refund_id = wire.digits(ref, "refund_id")
        for attempt in range(1, _READ_ATTEMPTS + 1):
            refund, detail_version, allowed = await self._read(refund_id)
            if detail_version in ("", wire.text_of(refund, "refund_version")):  # "": the detail names no version
                break
            if attempt == _READ_ATTEMPTS:
                allowed = ()
        return _parsed(lambda: cases.case_of(refund, allowed), "taobao.refund.get")

    async def _read(self, refund_id: str) -> tuple[dict[str, Any], str, tuple[str, ...]]:
        """One read of both APIs: the refund, the version the allowed operations belong to, and those."""
        content = await self._call("taobao.refund.get", {"fields": cases.REFUND_FIELDS, "refund_id": refund_id})
        refund = _parsed(lambda: cases.refund_of(content), "taobao.refund.get")
        detail = await self._call("taobao.refund.detail.get", {"refund_id": refund_id, "fields": cases.DETAIL_FIELDS})
        detail_version, allowed = _parsed(lambda: cases.detail_of(detail), "taobao.refund.detail.get")
        return refund, detail_version, allowed

    # -- writing --------------------------------------------------------------------------------------

    async def approve_refunds(self, items: Sequence[ApproveItem]) -> list[Exception | None]:
        """Agree refunds with ``taobao.rp.refunds.agree``, in calls within this account's limits.

        Per item: None when agreed, else the error it met. An error for a whole call (an
        ``error_response``, a transport failure) is every item of that call's error.
        """
        results: list[Exception | None] = [None] * len(items)
        calls, refused = approve.plan(items, approve.Limits(self.batch_limit, self.batch_fen_limit))
        for index, error in refused.items():
            results[index] = error
        for call in calls:
            refund_infos = ",".join(approve.refund_info(items[index]) for index in call)
            try:
                content = await self._call(approve.METHOD, {"refund_infos": refund_infos}, write=True)
                per_item: Sequence[Exception | None] = approve.outcomes(content, [items[i].case.ref for i in call])
            except (ChannelRejected, CarrierUnavailable) as exc:
                per_item = [exc] * len(call)
            for index, outcome in zip(call, per_item, strict=True):
                results[index] = outcome
        return results

    async def reject_refund(self, case: ChannelCase, *, reason_code: str, reason: str,
                            evidence: Sequence[str] = ()) -> None:
        """Refuse with ``taobao.refund.refuse``: reason id, message and the version read.

        ``refuse_proof`` is an uploaded image file, not a URL: lanjie does not fetch and re-upload the
        evidence, so the URLs stay on lanjie's case. Tmall requires a proof: if it refuses the call for
        want of one, the merchant refuses in the back office.
        """
        low, high = _REFUSE_MESSAGE_CHARS
        if not low <= len(reason.strip()) <= high:
            raise ChannelRejected("invalid-parameter", f"refuse_message must be {low} to {high} characters, "
                                  f"not {len(reason.strip())}", RejectionKind.invalid)
        params = {
            "refund_id": wire.digits(case.ref, "refund_id"),
            "refund_version": wire.digits(case.version, "refund_version"),
            "refund_phase": wire.text_of(case.raw, "refund_phase") or approve.DEFAULT_PHASE,
            "refuse_message": reason.strip(),
            "refuse_reason_id": wire.digits(reason_code, "refuse_reason_id") if reason_code else "",
        }
        await self._call("taobao.refund.refuse", params, write=True)

    async def commit_intercept(self, case: ChannelCase) -> None:
        """Commit to intercept the parcel (卖家发起拦截, ``taobao.rp.refund.intercept``): a 5-day window opens.

        Refused before any call unless the case, as last read, lists APPLY_DELIVERY_INTERCEPT_V2.
        """
        if not case.can_commit_intercept:
            raise ChannelRejected("not-allowed", f"refund {case.ref} does not allow an intercept commitment "
                                  "(no APPLY_DELIVERY_INTERCEPT_V2 in allowed_operations)", RejectionKind.refused)
        await self._call("taobao.rp.refund.intercept", {"refund_id": wire.digits(case.ref, "refund_id"),
                                                        "refund_version": wire.digits(case.version, "refund_version")},
                         write=True)

    async def confirm_received(self, case: ChannelCase, *, received_at: datetime,
                               waybill_no: str = "", company_code: str = "") -> None:
        raise NotSupported("taobao has no open API to confirm a return is in the warehouse: agreeing the "
                           "refund (approve_refunds, in WAIT_SELLER_CONFIRM_GOODS) is the seller's receipt")

    async def submit_evidence(self, case: ChannelCase, *, text: str, evidence: Sequence[str] = ()) -> None:
        raise NotSupported("taobao takes arbitration evidence (淘宝介入举证) in the seller back office only")

    # -- plumbing -----------------------------------------------------------------------------------

    async def _call(self, method: str, params: Mapping[str, str], *, write: bool = False) -> dict[str, Any]:
        """POST one signed TOP call; the answer's content, or ChannelRejected / CarrierUnavailable.

        A write whose answer cannot be read may have been applied: CarrierTimeout (re-read the case
        before writing again). A read's unreadable answer is CarrierUnavailable (retry later).
        """
        missing = [name for name in ("app_key", "app_secret", "session") if not self._credentials[name]]
        if missing:
            raise ChannelRejected("config", f"taobao {method} needs credentials: {', '.join(missing)}",
                                  RejectionKind.auth)
        form = wire.signed_form(method, params, app_key=self._credentials["app_key"],
                                session=self._credentials["session"], secret=self._credentials["app_secret"],
                                now=self._clock())
        response = await self._http.post_form(method, self._api + wire.ROUTER_PATH, form)
        try:
            body = self._http.json_object(method, response)
            return _parsed(lambda: wire.unwrap(method, body), method)
        except CarrierUnavailable as exc:
            if write and response.status_code < 500:
                raise CarrierTimeout(f"{exc} (the write may have been applied: read the case again)") from exc
            raise


def _parsed(read: Callable[[], T], method: str) -> T:
    """Run a parse; a malformed answer is CarrierUnavailable (the platform misbehaved: retry later)."""
    try:
        return read()
    except wire.PayloadError as exc:
        raise CarrierUnavailable(f"taobao {method}: malformed answer: {exc}") from exc
