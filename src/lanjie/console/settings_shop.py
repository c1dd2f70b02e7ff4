"""Settings: the shop itself — its name and id for reference, and the time zone the console shows times in."""

from __future__ import annotations

from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from starlette.responses import Response

from lanjie.console.settings_frame import Owner, done, page
from lanjie.console.web import CheckedForm, engine_for
from lanjie.service import shops
from lanjie.service.console_users import ConsoleSession

router = APIRouter(include_in_schema=False)
PATH = "/console/settings/shop"
#: Offered first in the list: where lanjie's shops and their warehouses usually are.
COMMON = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Urumqi", "Asia/Tokyo", "Asia/Singapore",
          "Europe/London", "America/Los_Angeles", "UTC")


def _page(request: Request, session: ConsoleSession, *, chosen: str = "", status_code: int = 200,
          error: str = "", detail: str = "") -> Response:
    zones = [*COMMON, *sorted(available_timezones() - set(COMMON))]
    return page(request, session, "settings_shop.html", "shop",
                {"zones": zones, "chosen": chosen or session.timezone}, status_code=status_code, error=error,
                detail=detail)


@router.get(PATH)
def shop_page(request: Request, session: Owner) -> Response:
    return _page(request, session)


@router.post(PATH)
def save_shop(request: Request, session: Owner, form: CheckedForm) -> Response:
    timezone = str(form.get("timezone", "")).strip()[:64]
    try:
        shops.set_timezone(engine_for(request, session), session.user.shop_id, timezone)
    except ValueError as exc:
        return _page(request, session, chosen=timezone, status_code=422, error="settings.shop.invalid",
                     detail=str(exc))
    return done(PATH, "shop_saved")
