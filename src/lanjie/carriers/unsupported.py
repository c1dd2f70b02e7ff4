"""What a carrier plugin does not do, said once: mixins whose methods raise ``NotSupported``.

``InterceptsElsewhere`` is for carriers without a public intercept API (ZTO, J&T, STO, Yunda,
Kdniao): lanjie's service layer sends their intercepts through the aggregator the class names in
``intercept_via``, so these methods are never the path an intercept takes. ``NoClaims`` is for every
carrier without a claim API (all of them, so far). A plugin lists the mixin before nothing else it
defines itself: its own methods win.
"""

from __future__ import annotations

from typing import ClassVar, NoReturn

from lanjie.carriers.errors import NotSupported


class InterceptsElsewhere:
    """Intercept operations for a carrier whose intercepts go through ``intercept_via``."""

    name: ClassVar[str]
    intercept_via: ClassVar[str | None]

    def _elsewhere(self) -> NoReturn:
        raise NotSupported(f"{self.name} has no public intercept API; intercepts go through the shop's "
                           f"{self.intercept_via} account")

    async def intercept(self, *args: object, **kwargs: object) -> NoReturn:
        self._elsewhere()

    async def query_intercept(self, *args: object, **kwargs: object) -> NoReturn:
        self._elsewhere()

    async def cancel_intercept(self, *args: object, **kwargs: object) -> NoReturn:
        self._elsewhere()

    async def precheck(self, *args: object, **kwargs: object) -> NoReturn:
        self._elsewhere()


class NoClaims:
    """Claim operations for a carrier without a claim API (claims are recorded by lanjie instead)."""

    name: ClassVar[str]

    async def file_claim(self, *args: object, **kwargs: object) -> NoReturn:
        raise NotSupported(f"{self.name} claims are not supported")

    async def claim_status(self, *args: object, **kwargs: object) -> NoReturn:
        raise NotSupported(f"{self.name} claims are not supported")
