"""The schema, as SQLAlchemy Core tables. Alembic migrations are generated from this metadata.

Every tenant-owned table carries ``shop_id``; unique constraints include it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(40), primary_key=True)


def _shop() -> sa.Column[str]:
    return sa.Column("shop_id", sa.String(40), sa.ForeignKey("shops.id"), nullable=False, index=True)


def _stamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


shops = sa.Table(
    "shops", metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("settlement_policy", sa.String(32), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Shanghai"),
    *_stamps(),
)

api_keys = sa.Table(
    "api_keys", metadata,
    _id(),  # the key id, shown in the key's prefix
    _shop(),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("scopes", sa.JSON(), nullable=False),
    sa.Column("label", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
)

carrier_accounts = sa.Table(
    "carrier_accounts", metadata,
    _id(),
    _shop(),
    sa.Column("carrier", sa.String(40), nullable=False),  # plugin name, e.g. kuaidi100
    sa.Column("credentials", sa.JSON(), nullable=False),  # never returned by the API
    sa.Column("callback_token", sa.String(64), nullable=False, unique=True),
    *_stamps(),
    sa.UniqueConstraint("shop_id", "carrier"),
)

channel_accounts = sa.Table(
    "channel_accounts", metadata,
    _id(),
    _shop(),
    sa.Column("channel", sa.String(40), nullable=False),  # plugin name, e.g. douyin
    sa.Column("credentials", sa.JSON(), nullable=False),  # never returned by the API
    sa.Column("callback_token", sa.String(64), nullable=False, unique=True),
    *_stamps(),
    sa.UniqueConstraint("shop_id", "channel"),
)

shop_rules = sa.Table(
    "shop_rules", metadata,
    sa.Column("shop_id", sa.String(40), sa.ForeignKey("shops.id"), primary_key=True),
    sa.Column("rules", sa.JSON(), nullable=False),  # the auto-intercept rules, in order (first match decides)
    sa.Column("deadline_margin_minutes", sa.Integer(), nullable=False, server_default="120"),
    *_stamps(),
)

decisions = sa.Table(
    "decisions", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    _shop(),
    sa.Column("aftersale_id", sa.String(40), sa.ForeignKey("aftersales.id"), nullable=False, index=True),
    sa.Column("rule", sa.String(100)),
    sa.Column("verdict", sa.String(16), nullable=False),  # intercept | wait | skip
    sa.Column("reason", sa.String(64), nullable=False, server_default=""),
    sa.Column("evidence", sa.JSON(), nullable=False),  # every condition checked and the tracking state seen
    sa.Column("trigger", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

shipments = sa.Table(
    "shipments", metadata,
    _id(),
    _shop(),
    sa.Column("carrier", sa.String(40), nullable=False),  # plugin, e.g. kuaidi100
    sa.Column("carrier_code", sa.String(40), nullable=False),  # courier, e.g. zto
    sa.Column("waybill_no", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(128), nullable=False),
    sa.Column("items", sa.JSON(), nullable=False),
    sa.Column("value_fen", sa.BigInteger(), nullable=False),
    sa.Column("freight_fen", sa.BigInteger(), nullable=False),
    sa.Column("insured_fen", sa.BigInteger()),
    sa.Column("sender", sa.JSON(), nullable=False),
    sa.Column("recipient", sa.JSON(), nullable=False),
    sa.Column("tracking_status", sa.String(32), nullable=False),
    sa.Column("tracking_at", UTCDateTime()),  # time of the newest carrier event applied
    sa.Column("tracking_events", sa.JSON(), nullable=False),
    sa.Column("subscription", sa.String(32), nullable=False, server_default=""),
    *_stamps(),
    sa.UniqueConstraint("shop_id", "waybill_no"),
    sa.Index("ix_shipments_shop_order", "shop_id", "order_id"),
)

aftersales = sa.Table(
    "aftersales", metadata,
    _id(),
    _shop(),
    sa.Column("order_id", sa.String(128), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("refund_fen", sa.BigInteger(), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("channel", sa.String(40), nullable=False, server_default="rest"),
    sa.Column("channel_ref", sa.String(128)),
    sa.Column("resolution", sa.String(32)),
    sa.Column("settlement_policy", sa.String(32), nullable=False),
    sa.Column("received_at", UTCDateTime()),
    sa.Column("channel_version", sa.String(64)),  # the platform's lock (Douyin update_time, Taobao refund_version)
    sa.Column("paid_fen", sa.BigInteger()),
    sa.Column("deadline_at", UTCDateTime()),  # the platform's status_deadline
    sa.Column("platform_status", sa.String(32)),
    sa.Column("platform_intercept", sa.String(32)),  # what the platform shows of the interception (Taobao)
    sa.Column("arbitration", sa.String(32), nullable=False, server_default="none"),
    sa.Column("fallback", sa.String(32), nullable=False, server_default="needs_person"),
    sa.Column("attention", sa.String(64), nullable=False, server_default=""),
    sa.Column("version", sa.Integer(), nullable=False),
    *_stamps(),
    sa.UniqueConstraint("shop_id", "channel", "channel_ref"),
    sa.Index("ix_aftersales_shop_deadline", "shop_id", "deadline_at"),
    sa.Index("ix_aftersales_shop_status", "shop_id", "status"),
    sa.Index("ix_aftersales_shop_created", "shop_id", "created_at"),  # the console's list and dashboard
)

aftersale_parcels = sa.Table(
    "aftersale_parcels", metadata,
    sa.Column("aftersale_id", sa.String(40), sa.ForeignKey("aftersales.id"), primary_key=True),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), primary_key=True),
    sa.Column("position", sa.Integer(), nullable=False),
)

_ACTIVE_INTERCEPT = "status IN ('requested','submitted','unknown','cancel_requested','succeeded')"
_LIVE_REFUND = "status IN ('pending','approved','succeeded')"

intercepts = sa.Table(
    "intercepts", metadata,
    _id(),
    _shop(),
    sa.Column("aftersale_id", sa.String(40), sa.ForeignKey("aftersales.id"), nullable=False, index=True),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("address", sa.JSON()),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(32)),
    sa.Column("message", sa.String(500), nullable=False, server_default=""),
    sa.Column("task_id", sa.String(128)),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("submit_started_at", UTCDateTime()),  # set before each carrier call
    sa.Column("answered_at", UTCDateTime()),
    sa.Column("outcome_at", UTCDateTime()),
    *_stamps(),
    sa.Index("ix_intercepts_shop_created", "shop_id", "created_at"),  # the dashboard's period
    # One intercept that may still take effect per parcel.
    sa.Index("uq_intercepts_active_shipment", "shipment_id", unique=True,
             sqlite_where=sa.text(_ACTIVE_INTERCEPT), postgresql_where=sa.text(_ACTIVE_INTERCEPT)),
)

refunds = sa.Table(
    "refunds", metadata,
    _id(),
    _shop(),
    sa.Column("aftersale_id", sa.String(40), sa.ForeignKey("aftersales.id"), nullable=False, index=True),
    sa.Column("refund_no", sa.String(64), nullable=False, unique=True),  # downstream number, reused on retry
    sa.Column("amount_fen", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("evidence", sa.JSON(), nullable=False),
    sa.Column("clawback", sa.String(16)),  # open | recovered | written_off, when the parcel was delivered after all
    *_stamps(),
    # At most one live refund per case: a constraint, not a convention.
    sa.Index("uq_refunds_live_case", "aftersale_id", unique=True,
             sqlite_where=sa.text(_LIVE_REFUND), postgresql_where=sa.text(_LIVE_REFUND)),
)

events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    _shop(),
    sa.Column("aftersale_id", sa.String(40)),
    sa.Column("subject_type", sa.String(32), nullable=False),
    sa.Column("subject_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_events_shop_id_id", "shop_id", "id"),
    sa.Index("ix_events_aftersale", "aftersale_id", "id"),
)

carrier_exchanges = sa.Table(
    "carrier_exchanges", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    _shop(),
    sa.Column("aftersale_id", sa.String(40), index=True),
    sa.Column("subject_id", sa.String(40), index=True),  # a parcel's tracking calls are found by it
    sa.Column("carrier", sa.String(40), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("url", sa.String(500), nullable=False),
    sa.Column("request_body", sa.Text(), nullable=False),
    sa.Column("status_code", sa.Integer()),
    sa.Column("response_body", sa.Text(), nullable=False),
    sa.Column("duration_ms", sa.Float(), nullable=False),
    sa.Column("error", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

inbox = sa.Table(
    "inbox", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    _shop(),
    # The carrier plugin, or ``channel:<name>`` for a sales platform's push.
    sa.Column("carrier", sa.String(40), nullable=False),
    sa.Column("message_key", sa.String(128), nullable=False),
    sa.Column("content_type", sa.String(128), nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),  # the raw bytes, as signed
    # The request headers as JSON (names lower-cased): some carriers sign in a header.
    sa.Column("headers", sa.Text(), nullable=False, server_default="{}"),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("processed_at", UTCDateTime()),
    sa.UniqueConstraint("shop_id", "carrier", "message_key"),
)

idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("shop_id", sa.String(40), sa.ForeignKey("shops.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("response_status", sa.Integer(), nullable=False),
    sa.Column("response_body", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("key", sa.String(200), unique=True),  # unique job key: enqueueing twice is a no-op
    sa.Column("shop_id", sa.String(40)),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # queued | running | succeeded | dead
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer(), nullable=False),
    sa.Column("run_at", UTCDateTime(), nullable=False),
    sa.Column("lease_until", UTCDateTime()),
    sa.Column("locked_by", sa.String(100)),
    sa.Column("concurrency_key", sa.String(100)),  # e.g. carrier:kuaidi100, limited across workers
    sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    *_stamps(),
    sa.Column("finished_at", UTCDateTime()),
    sa.Index("ix_jobs_status_run_at", "status", "run_at"),
    sa.Index("ix_jobs_concurrency", "concurrency_key", "status"),
)


# ---- Returns, claims and evidence files
return_legs = sa.Table(
    "return_legs", metadata,
    _id(),
    _shop(),
    sa.Column("aftersale_id", sa.String(40), sa.ForeignKey("aftersales.id"), nullable=False, index=True),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False, unique=True),
    sa.Column("waybill_no", sa.String(64), nullable=False),
    sa.Column("return_waybill_no", sa.String(64), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("last_scan_at", UTCDateTime()),
    sa.Column("eta_at", UTCDateTime()),
    sa.Column("returned_at", UTCDateTime()),
    sa.Column("received_at", UTCDateTime()),
    sa.Column("inspection", sa.String(16)),  # ok | damaged | short
    sa.Column("inspection_note", sa.String(500), nullable=False, server_default=""),
    sa.Column("items", sa.JSON(), nullable=False),  # [{sku, expected, received}]
    sa.Column("photos", sa.JSON(), nullable=False),  # evidence file ids
    *_stamps(),
    sa.Index("ix_return_legs_shop_waybill", "shop_id", "waybill_no"),
    sa.Index("ix_return_legs_shop_return_waybill", "shop_id", "return_waybill_no"),
    sa.Index("ix_return_legs_shop_status", "shop_id", "status"),
)

carrier_contracts = sa.Table(
    "carrier_contracts", metadata,
    sa.Column("shop_id", sa.String(40), sa.ForeignKey("shops.id"), primary_key=True),
    sa.Column("carrier", sa.String(40), primary_key=True),  # plugin name, or * for the shop's default
    sa.Column("rule", sa.String(32), nullable=False),  # insured_value | capped_actual_loss | goods_value
    sa.Column("cap_multiple", sa.Integer(), nullable=False, server_default="3"),
    sa.Column("cap_fen", sa.BigInteger()),
    sa.Column("filing_days", sa.Integer()),
    *_stamps(),
)

claims = sa.Table(
    "claims", metadata,
    _id(),
    _shop(),
    sa.Column("aftersale_id", sa.String(40), sa.ForeignKey("aftersales.id"), nullable=False, index=True),
    sa.Column("return_id", sa.String(40), sa.ForeignKey("return_legs.id"), nullable=False),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("carrier", sa.String(64), nullable=False),  # plugin:courier
    sa.Column("waybill_no", sa.String(64), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("amount_fen", sa.BigInteger(), nullable=False),
    sa.Column("basis", sa.JSON(), nullable=False),
    sa.Column("evidence", sa.JSON(), nullable=False),
    sa.Column("filing_deadline_at", UTCDateTime(), nullable=False),
    sa.Column("filed_via", sa.String(16), nullable=False, server_default=""),
    sa.Column("carrier_ref", sa.String(128), nullable=False, server_default=""),
    sa.Column("filed_at", UTCDateTime()),
    sa.Column("approved_fen", sa.BigInteger()),
    sa.Column("paid_fen", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("payouts", sa.JSON(), nullable=False),
    sa.Column("documents_requested", sa.JSON(), nullable=False),
    sa.Column("message", sa.String(500), nullable=False, server_default=""),
    sa.Column("version", sa.Integer(), nullable=False),
    *_stamps(),
    # One claim of a kind per parcel: a second loss report does not claim twice.
    sa.Index("uq_claims_shipment_type", "shipment_id", "type", unique=True),
    sa.Index("ix_claims_shop_status", "shop_id", "status"),
)

evidence_files = sa.Table(
    "evidence_files", metadata,
    sa.Column("id", sa.String(80), primary_key=True),  # "ef_" + 32 hex of sha256(shop id, newline, content sha256)
    _shop(),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("storage_key", sa.String(300), nullable=False),  # where the store keeps the bytes
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("shop_id", "sha256"),
)


# ---- Outgoing webhooks
# A shop's endpoints, one delivery per (endpoint, event), and every attempt at sending it (lanjie.webhooks).

webhook_endpoints = sa.Table(
    "webhook_endpoints", metadata,
    _id(),
    _shop(),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("event_types", sa.JSON(), nullable=False),  # public type names; empty = every type
    sa.Column("secret", sa.String(100), nullable=False),  # whsec_…, signs every request
    # During a rotation the replaced secret also signs, until it expires.
    sa.Column("previous_secret", sa.String(100)),
    sa.Column("previous_secret_expires_at", UTCDateTime()),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("disabled_at", UTCDateTime()),
    sa.Column("disabled_reason", sa.String(200), nullable=False, server_default=""),
    # The last event id of the shop fanned out to this endpoint.
    sa.Column("cursor", sa.BigInteger(), nullable=False, server_default="0"),
    *_stamps(),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    _shop(),
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("event_id", sa.BigInteger(), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),  # the public type, e.g. case.settled
    sa.Column("message_id", sa.String(64), nullable=False),  # the webhook-id header, the same on every attempt
    sa.Column("body", sa.LargeBinary(), nullable=False),  # the exact bytes signed and sent
    sa.Column("status", sa.String(16), nullable=False),  # pending | succeeded | failed | cancelled
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime()),
    sa.Column("last_status_code", sa.Integer()),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    *_stamps(),
    sa.UniqueConstraint("shop_id", "endpoint_id", "event_id"),
    sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    _shop(),
    sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
              sa.ForeignKey("webhook_deliveries.id"), nullable=False),
    sa.Column("n", sa.Integer(), nullable=False),  # 1 for the first attempt of the delivery
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("status_code", sa.Integer()),  # none when no answer came (timeout, refused target)
    sa.Column("duration_ms", sa.Integer(), nullable=False),
    sa.Column("response_body", sa.Text(), nullable=False, server_default=""),  # its first 2 KB
    sa.Column("error", sa.String(500), nullable=False, server_default=""),
    sa.Column("trigger", sa.String(16), nullable=False),  # automatic | manual
    sa.UniqueConstraint("shop_id", "delivery_id", "n"),
)

# ------------------------------------------------------------------ the console's people
console_users = sa.Table(
    "console_users", metadata,
    _id(),
    _shop(),
    sa.Column("login", sa.String(120), nullable=False, unique=True),  # lower-case; one account, one shop
    sa.Column("name", sa.String(120), nullable=False, server_default=""),
    sa.Column("role", sa.String(16), nullable=False),  # owner | agent | warehouse
    sa.Column("password_hash", sa.String(200), nullable=False),  # scrypt$n$r$p$salt$hash
    sa.Column("disabled_at", UTCDateTime()),
    *_stamps(),
)

console_sessions = sa.Table(
    "console_sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the cookie's token; the token is never stored
    _shop(),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("console_users.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)
