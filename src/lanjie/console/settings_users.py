"""Settings: the shop's console users: add one, change a role, disable or enable, reset a password.

The service keeps at least one enabled owner; the change that would leave none is refused and said so.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from lanjie.console.settings_frame import ObjectId, Owner, done, not_found, page
from lanjie.console.web import CheckedForm, container
from lanjie.service import console_users
from lanjie.service.console_users import ConsoleSession, Role, UserError

router = APIRouter(include_in_schema=False)
PATH = "/console/settings/users"
LAST_OWNER = "the shop needs at least one enabled owner"


def _error_key(exc: UserError) -> tuple[str, str]:
    """The message for a refused change, with the service's words when there is no better one."""
    text = str(exc)
    if text == LAST_OWNER:
        return "settings.users.last_owner", ""
    return "settings.users.invalid", text


def _users(request: Request, session: ConsoleSession) -> list[console_users.ConsoleUser]:
    return console_users.list_users(container(request).engine, session.user.shop_id)


def _users_page(request: Request, session: ConsoleSession, *, status_code: int = 200, error: str = "",
                detail: str = "", entered: dict[str, str] | None = None) -> Response:
    return page(request, session, "settings_users.html", "users",
                {"users": _users(request, session), "roles": list(Role), "entered": entered or {}},
                status_code=status_code, error=error, detail=detail)


def _user_page(request: Request, session: ConsoleSession, user: console_users.ConsoleUser, *,
               status_code: int = 200, error: str = "", detail: str = "") -> Response:
    return page(request, session, "settings_user.html", "users", {"person": user, "roles": list(Role)},
                status_code=status_code, error=error, detail=detail)


@router.get(PATH)
def users_page(request: Request, session: Owner) -> Response:
    return _users_page(request, session)


@router.post(PATH)
def add_user(request: Request, session: Owner, form: CheckedForm) -> Response:
    entered = {name: str(form.get(name, ""))[:200] for name in ("login", "name", "role")}
    try:
        console_users.create_user(container(request).engine, session.user.shop_id, entered["login"],
                                  str(form.get("password", ""))[:200], entered["role"], entered["name"])
    except UserError as exc:
        error, detail = _error_key(exc)
        return _users_page(request, session, status_code=422, error=error, detail=detail, entered=entered)
    return done(PATH, "user_added")


@router.get(PATH + "/{user_id}")
def user_page(user_id: ObjectId, request: Request, session: Owner) -> Response:
    user = next((u for u in _users(request, session) if u.id == user_id), None)
    if user is None:
        return not_found(request, session, "users")
    return _user_page(request, session, user)


def _update(request: Request, session: ConsoleSession, user_id: str, notice: str, **change: object) -> Response:
    try:
        changed = console_users.update_user(container(request).engine, session.user.shop_id, user_id,
                                            **change)  # type: ignore[arg-type]
    except UserError as exc:
        user = next((u for u in _users(request, session) if u.id == user_id), None)
        if user is None:
            return not_found(request, session, "users")
        error, detail = _error_key(exc)
        return _user_page(request, session, user, status_code=422, error=error, detail=detail)
    if changed is None:
        return not_found(request, session, "users")
    return done(f"{PATH}/{user_id}", notice)


@router.post(PATH + "/{user_id}/role")
def change_role(user_id: ObjectId, request: Request, session: Owner, form: CheckedForm) -> Response:
    return _update(request, session, user_id, "user_role", role=str(form.get("role", ""))[:40])


@router.post(PATH + "/{user_id}/disable")
def disable_user(user_id: ObjectId, request: Request, session: Owner, form: CheckedForm) -> Response:
    return _update(request, session, user_id, "user_disabled", disabled=True)


@router.post(PATH + "/{user_id}/enable")
def enable_user(user_id: ObjectId, request: Request, session: Owner, form: CheckedForm) -> Response:
    return _update(request, session, user_id, "user_enabled", disabled=False)


@router.post(PATH + "/{user_id}/password")
def reset_password(user_id: ObjectId, request: Request, session: Owner, form: CheckedForm) -> Response:
    return _update(request, session, user_id, "user_password", password=str(form.get("password", ""))[:200])
