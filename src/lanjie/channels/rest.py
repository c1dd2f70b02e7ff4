"""The REST channel: cases that arrive through lanjie's own API (``POST /v1/aftersales``).

There is no platform to call: the merchant's own system is the platform. It learns of decisions
from lanjie's events (``GET /v1/events``, the event stream, or outgoing webhooks) and carries them
out itself, so every operation here succeeds at once and leaves no exchange.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar

import httpx

from lanjie.carriers.base import Exchange
from lanjie.channels.base import ApproveItem, ChannelAccount, ChannelCapability, ChannelCase, Inbound
from lanjie.channels.errors import NotSupported


class RestChannel:
    name: ClassVar[str] = "rest"
    title: ClassVar[str] = "REST API (the merchant's own system)"
    capabilities: ClassVar[frozenset[ChannelCapability]] = frozenset(
        {ChannelCapability.approve_refund, ChannelCapability.reject_refund, ChannelCapability.confirm_received})
    credential_names: ClassVar[tuple[str, ...]] = ()
    endpoint_names: ClassVar[tuple[str, ...]] = ()
    approve_batch_limit: ClassVar[int] = 1000
    approve_batch_fen_limit: ClassVar[int | None] = None

    def __init__(self, account: ChannelAccount, client: httpx.AsyncClient) -> None:
        self.account, self.exchanges = account, list[Exchange]()

    def parse_push(self, body: bytes, content_type: str, headers: Mapping[str, str]) -> Inbound:
        raise NotSupported("the REST channel has no push: cases arrive through POST /v1/aftersales")

    @staticmethod
    def reject_ack() -> tuple[bytes, str]:
        return b'{"error":"signature invalid"}', "application/json"

    async def fetch_case(self, ref: str) -> ChannelCase:
        raise NotSupported("the REST channel holds no copy of the case: lanjie's own record is the truth")

    async def approve_refunds(self, items: Sequence[ApproveItem]) -> list[Exception | None]:
        return [None for _ in items]

    async def reject_refund(self, case: ChannelCase, *, reason_code: str, reason: str,
                            evidence: Sequence[str] = ()) -> None:
        return None

    async def commit_intercept(self, case: ChannelCase) -> None:
        raise NotSupported("the REST channel has no intercept commitment")

    async def confirm_received(self, case: ChannelCase, *, received_at: datetime,
                               waybill_no: str = "", company_code: str = "") -> None:
        return None

    async def submit_evidence(self, case: ChannelCase, *, text: str, evidence: Sequence[str] = ()) -> None:
        raise NotSupported("the REST channel has no arbitration to submit evidence to")
