"""Sales-channel side: platform pushes (inbox), the shop's platform accounts, and re-reading a case."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Request, Response

from lanjie.api import inbox, views
from lanjie.api.auth import current_shop
from lanjie.api.idempotency import IdempotencyKey, idempotent
from lanjie.api.problems import Problem
from lanjie.api.responses import PROBLEMS, CaseSummaryOut, ChannelAccountListOut, ChannelAccountOut
from lanjie.api.schemas import ChannelAccountIn, ObjectId
from lanjie.channels.errors import ChannelRejected, MalformedMessage, NotSupported, SignatureInvalid
from lanjie.channels.registry import credential_problem
from lanjie.service import channels as accounts
from lanjie.service import commands
from lanjie.service.channel_jobs import PROCESS_CHANNEL_INBOX, SYNC_CASE
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork

router = APIRouter(tags=["channels"])
Shop = Annotated[str, Depends(current_shop)]
MAX_PUSH_BYTES = 512 * 1024


@router.post("/v1/channels/{channel}/callbacks/{token}",
             summary="Sales-platform pushes (Douyin messages, Taobao TMC relay): verified, stored, acknowledged "
                     "after commit")
async def callback(channel: Annotated[str, Path(pattern=r"^[a-z0-9_]{2,40}$")],
                   token: Annotated[str, Path(pattern=r"^[0-9a-f]{16,64}$")], request: Request) -> Response:
    container = request.app.state.container
    body = await request.body()
    if len(body) > MAX_PUSH_BYTES:
        raise Problem(413, "Push too large", f"pushes are limited to {MAX_PUSH_BYTES} bytes")
    content_type = request.headers.get("content-type", "")
    headers = inbox.kept_headers(request)

    def receive() -> Response:
        with UnitOfWork(container.engine, utcnow(), on_commit=container.wake) as uow:
            account = accounts.account_by_token(uow.conn, channel, token)
            if account is None or channel not in container.channels.registry:
                raise Problem(404, "Not found", "no such callback endpoint")
            adapter = container.channels.adapter(account)
            try:
                inbound = adapter.parse_push(body, content_type, headers)
            except SignatureInvalid as exc:
                raise Problem(401, "Signature invalid", str(exc) or "push signature did not verify",
                              type_="/problems/signature-invalid") from None
            except (MalformedMessage, NotSupported) as exc:
                raise Problem(400, "Malformed push", str(exc), type_="/problems/malformed-push") from None
            # One inbox row per push; its messages are de-duplicated by their own ids when processed.
            keys = ",".join(sorted(m.message_key for m in inbound.messages))
            key = hashlib.sha256((keys or body.decode("utf-8", "replace")).encode()).hexdigest()
            inserted = inbox.store(uow, shop_id=account.shop_id, source=f"{accounts.INBOX_PREFIX}{channel}",
                                   message_key=key, content_type=content_type, body=body, headers=headers)
            if inserted is not None:
                uow.enqueue(PROCESS_CHANNEL_INBOX, {"shop_id": account.shop_id, "inbox_id": inserted},
                            key=f"channel-inbox:{inserted}", shop_id=account.shop_id)
            uow.commit()
            return Response(inbound.ack_body, media_type=inbound.ack_media_type)

    return await anyio.to_thread.run_sync(receive)


def _account_view(container: Any, record: accounts.ChannelAccountRecord) -> dict[str, Any]:
    return {"id": record.id, "channel": record.channel, "credential_fields": sorted(record.credentials),
            "callback_url": container.channels.callback_url(record)}


@router.post("/v1/channel-accounts", status_code=201, tags=["shop"], response_model=ChannelAccountOut,
             responses=PROBLEMS, summary="Set the shop's credentials on a sales platform (write-only)")
async def set_account(body: ChannelAccountIn, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    container = request.app.state.container
    registry = container.channels.registry
    if body.channel not in registry or not registry[body.channel].credential_names:
        known = sorted(name for name, cls in registry.items() if cls.credential_names)
        raise Problem(422, "Unknown channel", f"unknown sales channel {body.channel!r}; platforms with accounts: "
                      f"{', '.join(known)}", field="channel")
    problem = credential_problem(registry[body.channel], dict(body.credentials))
    if problem is not None:
        raise Problem(422, "Invalid credentials", problem, field=problem.split(" ", 1)[0])
    try:  # an adapter checks the values it can (Taobao's platform is taobao or tmall)
        container.channels.adapter(accounts.ChannelAccountRecord("check", shop_id, body.channel,
                                                                 dict(body.credentials), ""))
    except ChannelRejected as exc:
        raise Problem(422, "Invalid credentials", exc.message, field="credentials") from None

    def work(uow: UnitOfWork) -> Any:
        return _account_view(container, accounts.upsert_account(uow.conn, shop_id, body.channel,
                                                                dict(body.credentials)))
    return await idempotent(request, shop_id, 201, work)


@router.get("/v1/channel-accounts", tags=["shop"], summary="The shop's sales-platform accounts (no credentials)",
            response_model=ChannelAccountListOut, responses=PROBLEMS)
async def list_accounts(request: Request, shop_id: Shop) -> Any:
    container = request.app.state.container

    def read() -> Any:
        with container.for_shop(shop_id, read_only=True).connect() as conn:
            return {"items": [_account_view(container, a) for a in accounts.accounts_of(conn, shop_id)]}
    return await anyio.to_thread.run_sync(read)


@router.post("/v1/aftersales/{case_id}/sync", status_code=202, tags=["aftersales"], response_model=CaseSummaryOut,
             responses=PROBLEMS, summary="Read the case again from its sales platform now")
async def sync(case_id: ObjectId, request: Request, shop_id: Shop, _: IdempotencyKey = None) -> Any:
    def work(uow: UnitOfWork) -> Any:
        case = commands.load_case(uow, shop_id, case_id)
        if case.channel_ref is None or case.channel not in request.app.state.container.channels.registry \
                or accounts.account_for(uow.conn, shop_id, case.channel) is None:
            raise Problem(409, "No platform to read", f"case {case_id} came through {case.channel}, which lanjie "
                          "cannot read back", type_="/problems/not-supported")
        uow.enqueue(SYNC_CASE, {"shop_id": shop_id, "channel": case.channel, "ref": case.channel_ref,
                                "trigger": "manual"},
                    key=f"sync:{case.channel}:{shop_id}:manual:{uow.now.timestamp()}", shop_id=shop_id,
                    concurrency_key=f"channel:{case.channel}")
        return views.case_summary(case)
    return await idempotent(request, shop_id, 202, work, on_commit=request.app.state.container.wake)
