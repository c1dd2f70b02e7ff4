"""The console's settings (owner only): the shop's time zone, carrier accounts, sales channels, webhooks, API
keys and users.

Each section is its own module (``settings_*.py``); changes are plain form POSTs (CSRF checked) that call
the same service functions as the API and come back to the page with a notice.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from lanjie.console import settings_accounts, settings_keys, settings_shop, settings_users, settings_webhooks
from lanjie.console.settings_frame import Owner, page

router = APIRouter(include_in_schema=False)


@router.get("/console/settings")
def settings_page(request: Request, session: Owner) -> Response:
    return page(request, session, "settings.html", "")


for _module in (settings_shop, settings_accounts, settings_webhooks, settings_keys, settings_users):
    router.include_router(_module.router)
