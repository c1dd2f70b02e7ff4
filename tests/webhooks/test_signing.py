"""Standard Webhooks signatures: verified by the reference library, two during a secret rotation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from lanjie.webhooks.signing import new_message_id, new_secret, sign_headers, signing_secrets

BODY = '{"type":"case.created","timestamp":"2026-11-27T08:00:00.000Z","data":{"reason":"不要了"}}'.encode()


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and len(base64.b64decode(a.removeprefix("whsec_"))) == 32
    assert a != b


def test_the_reference_library_verifies_our_headers_and_rejects_a_changed_body() -> None:
    secret, now = new_secret(), datetime.now(UTC)
    headers = sign_headers(message_id="msg_1", at=now, body=BODY, secrets_=[secret])
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]
    assert Webhook(secret).verify(BODY, headers)["data"]["reason"] == "不要了"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"case", b"CASE"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_during_rotation_both_secrets_sign_and_each_verifies() -> None:
    old, new, now = new_secret(), new_secret(), datetime.now(UTC)
    secrets_ = signing_secrets(new, old, now + timedelta(hours=24), now)
    assert secrets_ == [new, old]
    headers = sign_headers(message_id="msg_2", at=now, body=BODY, secrets_=secrets_)
    assert [s.split(",")[0] for s in headers["webhook-signature"].split(" ")] == ["v1", "v1"]
    assert Webhook(old).verify(BODY, headers) == Webhook(new).verify(BODY, headers)


def test_the_replaced_secret_stops_signing_when_it_expires() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert signing_secrets("whsec_new", "whsec_old", now, now) == ["whsec_new"]
    assert signing_secrets("whsec_new", "whsec_old", now + timedelta(seconds=1), now) == ["whsec_new", "whsec_old"]
    assert signing_secrets("whsec_new", None, None, now) == ["whsec_new"]


def test_a_stale_timestamp_is_refused_by_receivers() -> None:
    secret = new_secret()
    headers = sign_headers(message_id="msg_3", at=datetime.now(UTC) - timedelta(minutes=6), body=BODY,
                           secrets_=[secret])
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_message_ids_are_unique() -> None:
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("msg_") for i in ids)
