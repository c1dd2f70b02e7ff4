"""Request and response shapes of the webhook routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from lanjie.api.responses import Out
from lanjie.api.schemas import Strict
from lanjie.webhooks.store import DeliveryStatus

_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=_PRINTABLE),
                Field(description="https URL that receives the POSTs", examples=["https://erp.example.com/hooks/lanjie"])]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=_PRINTABLE)]
TypeName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_PRINTABLE)]
EventTypes = Annotated[list[TypeName], Field(
    max_length=50, description="public event types (e.g. case.settled), families (intercept.*), or return.*/claim.* "
    "names; empty = every type", examples=[["case.settled", "intercept.*"]])]


class WebhookEndpointIn(Strict):
    url: Url
    description: Description = ""
    event_types: EventTypes = []


class WebhookEndpointPatch(Strict):
    url: Url | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    enabled: bool | None = Field(None, description="false stops sending (pending deliveries are cancelled); true "
                                 "starts again from the shop's newest event")


class WebhookEndpointOut(Out):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str = Field(description="why it stopped, e.g. the endpoint answered 410 Gone")
    previous_secret_expires_at: datetime | None = Field(
        description="during a secret rotation, when the replaced secret stops signing")
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecretOut(WebhookEndpointOut):
    secret: str = Field(description="whsec_…: verifies the webhook-signature header; shown only in this answer")


class WebhookEndpointListOut(Out):
    items: list[WebhookEndpointOut]


class WebhookDeliveryOut(Out):
    id: int
    endpoint_id: str
    event_id: int
    event_type: str = Field(examples=["case.settled"])
    message_id: str = Field(description="the webhook-id header, the same on every attempt")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="when the next scheduled attempt is due")
    last_status_code: int | None
    last_error: str
    created_at: datetime
    updated_at: datetime


class WebhookAttemptOut(Out):
    n: int
    at: datetime
    status_code: int | None
    duration_ms: int
    response_body: str = Field(description="the first 2 KB of the answer")
    error: str
    trigger: str = Field(description="automatic | manual")


class WebhookDeliveryDetailOut(WebhookDeliveryOut):
    body: str = Field(description="the exact JSON sent")
    attempt_log: list[WebhookAttemptOut]


class WebhookDeliveryListOut(Out):
    items: list[WebhookDeliveryOut]
    next_before: int | None = Field(description="pass as ?before= for the next (older) page; null on the last")
