"""Settings: the shop's API keys (for machines): issue one (shown once), revoke one after a confirm step."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from lanjie.console.settings_frame import ObjectId, Owner, done, not_found, page
from lanjie.console.web import CheckedForm, engine_for
from lanjie.service import shops
from lanjie.service.console_users import ConsoleSession

router = APIRouter(include_in_schema=False)
PATH = "/console/settings/api-keys"


def _keys_page(request: Request, session: ConsoleSession, new_key: str = "", *, status_code: int = 200) -> Response:
    keys = shops.list_keys(engine_for(request, session, read_only=True), session.user.shop_id)
    return page(request, session, "settings_keys.html", "keys", {"keys": keys, "new_key": new_key},
                status_code=status_code)


def _live_key(request: Request, session: ConsoleSession, key_id: str) -> shops.KeyRecord | None:
    keys = shops.list_keys(engine_for(request, session, read_only=True), session.user.shop_id)
    return next((k for k in keys if k.id == key_id and k.revoked_at is None), None)


@router.get(PATH)
def keys_page(request: Request, session: Owner) -> Response:
    return _keys_page(request, session)


@router.post(PATH)
def issue_key(request: Request, session: Owner, form: CheckedForm) -> Response:
    label = str(form.get("label", "")).strip()[:200]
    key = shops.issue_key(engine_for(request, session), session.user.shop_id, label)
    return _keys_page(request, session, key, status_code=201)  # shown in this answer only


@router.get(PATH + "/{key_id}/revoke")
def confirm_revoke(key_id: ObjectId, request: Request, session: Owner) -> Response:
    key = _live_key(request, session, key_id)
    if key is None:
        return not_found(request, session, "keys")
    return page(request, session, "settings_key_revoke.html", "keys", {"key": key})


@router.post(PATH + "/{key_id}/revoke")
def revoke_key(key_id: ObjectId, request: Request, session: Owner, form: CheckedForm) -> Response:
    if not shops.revoke_key(engine_for(request, session), session.user.shop_id, key_id):
        return not_found(request, session, "keys")
    return done(PATH, "key_revoked")
