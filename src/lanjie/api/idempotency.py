"""Idempotency-Key for every mutating call (Stripe semantics, IETF draft status codes).

The key row is claimed in a short transaction of its own (so a concurrent duplicate sees it and
answers 409), then completed in the same transaction as the business change. A business-rule
refusal is stored and replayed like a success; any other failure releases the key.

A claim is identified by the time it was made (``created_at``), which works as its token: taking over
an abandoned claim is a compare-and-set on that time, and storing the answer or releasing the key
happens only while the row still carries our own time. So of several duplicates that find the same
abandoned key at once exactly one runs, and a request whose claim was taken over while it ran writes
nothing (its transaction rolls back) and answers 409.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Header, Request
from fastapi.responses import JSONResponse

from lanjie.api.problems import PROBLEM, Problem, problem_for
from lanjie.domain.errors import DomainError
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import tables as t
from lanjie.store.repository import StaleCase

#: Declared on every mutating route so the OpenAPI description shows it; checked by ``key_of``.
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", description="required: 16–255 characters of A-Z a-z 0-9 _ . : - (a UUID is fine); "
    "a replay returns the stored response with Idempotent-Replayed: true")]

_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{16,255}$")
IN_FLIGHT = 0
#: An in-flight claim older than this belongs to a request that died; the key may be taken over.
ABANDONED_AFTER = timedelta(seconds=60)


def fingerprint(request: Request, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).hexdigest()


def key_of(request: Request) -> str:
    key = request.headers.get("idempotency-key", "").strip().strip('"')
    if not key:
        raise Problem(400, "Idempotency-Key required", "send an Idempotency-Key header (16–255 characters, "
                      "e.g. a UUID) with every POST", type_="/problems/idempotency-key-missing",
                      field="Idempotency-Key")
    if not _KEY.match(key):
        raise Problem(400, "Bad Idempotency-Key", "Idempotency-Key must be 16–255 characters of "
                      "A-Z a-z 0-9 _ . : -", type_="/problems/idempotency-key-invalid", field="Idempotency-Key")
    return key


@dataclass(frozen=True)
class _Claim:
    """The key row we hold while the request runs; ``claimed_at`` is our token on it."""

    shop_id: str
    key: str
    claimed_at: datetime

    def mine(self) -> sa.ColumnElement[bool]:
        k = t.idempotency_keys
        return sa.and_(k.c.shop_id == self.shop_id, k.c.key == self.key, k.c.response_status == IN_FLIGHT,
                       k.c.created_at == self.claimed_at)


class _TakenOver(Exception):
    """Our claim was taken over by a duplicate (we ran past ABANDONED_AFTER): our work must not count."""


def _claim(engine: sa.Engine, shop_id: str, key: str, fp: str) -> JSONResponse | _Claim:
    now = utcnow()
    k = t.idempotency_keys
    with engine.begin() as conn:
        row = conn.execute(sa.select(k).where(k.c.shop_id == shop_id, k.c.key == key)).first()
        if row is not None:
            if row.fingerprint != fp:
                raise Problem(422, "Idempotency-Key reused", "this Idempotency-Key was used with a different "
                              "request body or path", type_="/problems/idempotency-key-reused")
            if row.response_status != IN_FLIGHT:
                media = PROBLEM if row.response_status >= 400 else "application/json"
                return JSONResponse(json.loads(row.response_body), status_code=row.response_status,
                                    media_type=media, headers={"Idempotent-Replayed": "true"})
            if now - row.created_at < ABANDONED_AFTER:
                raise _in_flight()
            # Compare-and-set: of several duplicates that saw the same abandoned claim, one wins.
            seen = _Claim(shop_id, key, row.created_at)
            if conn.execute(k.update().where(seen.mine()).values(created_at=now)).rowcount != 1:
                raise _in_flight()
            return _Claim(shop_id, key, now)
        try:
            with conn.begin_nested():
                conn.execute(k.insert().values(shop_id=shop_id, key=key, fingerprint=fp,
                                               response_status=IN_FLIGHT, response_body="", created_at=now))
        except sa.exc.IntegrityError:
            raise _in_flight() from None
    return _Claim(shop_id, key, now)


def _in_flight() -> Problem:
    return Problem(409, "Request in flight", "a request with this Idempotency-Key is still being processed",
                   type_="/problems/idempotency-key-in-flight", headers={"Retry-After": "1"})


def _store(conn: sa.Connection, claim: _Claim, status: int, body: Any) -> None:
    stored = conn.execute(t.idempotency_keys.update().where(claim.mine()).values(
        response_status=status, response_body=json.dumps(body, ensure_ascii=False)))
    if stored.rowcount != 1:
        raise _TakenOver


def _release(engine: sa.Engine, claim: _Claim) -> None:
    with engine.begin() as conn:
        conn.execute(t.idempotency_keys.delete().where(claim.mine()))


async def idempotent(request: Request, shop_id: str, status: int,
                     work: Callable[[UnitOfWork], Any], *, on_commit: Callable[[], None] | None = None,
                     identity: bytes | None = None) -> JSONResponse:
    """Run ``work`` once per Idempotency-Key; replays answer with the stored response.

    The key's fingerprint covers the request body, or ``identity`` when given: what an upload is (its
    hash), not its multipart envelope, whose boundary a client changes on every retry.
    """
    import anyio

    key = key_of(request)
    fp = fingerprint(request, identity if identity is not None else await request.body())
    engine: sa.Engine = request.app.state.container.for_shop(shop_id)

    def run() -> JSONResponse:
        claim = _claim(engine, shop_id, key, fp)
        if isinstance(claim, JSONResponse):
            return claim  # a replay
        try:
            with UnitOfWork(engine, utcnow(), on_commit=on_commit) as uow:
                try:
                    body = work(uow)
                    _store(uow.conn, claim, status, body)
                    uow.commit()
                    return JSONResponse(body, status_code=status)
                except DomainError as exc:
                    uow._tx.rollback()
                    refusal = problem_for(exc)
                    assert refusal is not None
            with engine.begin() as conn:
                _store(conn, claim, refusal.status, refusal.body())
            return refusal.response()
        except _TakenOver:
            # A duplicate took the key over while we ran: nothing of ours was kept; its answer will be.
            return _in_flight().response()
        except (sa.exc.IntegrityError, StaleCase):
            # Another request changed the same thing at the same moment (two keys, one waybill):
            # nothing was written; the client may retry with this key and get a definite answer.
            _release(engine, claim)
            return Problem(409, "Conflict", "a concurrent request changed the same object; retry",
                           type_="/problems/concurrent-change", headers={"Retry-After": "1"}).response()
        except BaseException:
            _release(engine, claim)
            raise

    return await anyio.to_thread.run_sync(run)
