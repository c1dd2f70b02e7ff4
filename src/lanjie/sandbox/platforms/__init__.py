"""The sales-platform simulator: Douyin (抖店) and Taobao/Tmall (淘宝/天猫) as lanjie's channels see them.

Each platform holds shops and after-sales, answers lanjie's API calls in the platform's own format
(``/sandbox/douyin/afterSale/…``, ``/sandbox/taobao/router/rest``), pushes its messages to the shop's
push URL, runs the after-sale deadlines on the sandbox clock (auto-agreeing on timeout), and plays the
buyers: cancelling, changing the request, escalating to the platform's arbitration. Tests and the demo
drive it through ``/sandbox/control/platforms``. It reads the sandbox world's parcels (Douyin's
logistics state, Taobao's intercept result) and changes nothing in them.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from lanjie.sandbox.platforms.douyin import DouyinPlatform
from lanjie.sandbox.platforms.douyin_api import DouyinAPI
from lanjie.sandbox.platforms.push import MessageSender
from lanjie.sandbox.platforms.taobao import TaobaoPlatform
from lanjie.sandbox.platforms.taobao_api import TaobaoAPI

if TYPE_CHECKING:
    from lanjie.sandbox.model import InterceptTask, Parcel
    from lanjie.sandbox.world import SandboxWorld

__all__ = ["Platforms"]


class Platforms:
    """Both platforms of one world, listening to its parcels."""

    def __init__(self, world: SandboxWorld) -> None:
        sender = MessageSender(world, world.config.platforms)
        self.douyin = DouyinPlatform(world, sender)
        self.taobao = TaobaoPlatform(world, sender)
        self.douyin_api = DouyinAPI(self.douyin)
        self.taobao_api = TaobaoAPI(self.taobao)
        # Separate from the world's generator, so using the platforms never shifts the carriers' dice.
        self.rng = random.Random(f"platforms-{world.config.seed}")

    def on_tracking(self, parcel: Parcel) -> None:
        self.taobao.on_tracking(parcel)

    def on_intercept_resolved(self, parcel: Parcel, task: InterceptTask) -> None:
        """Nothing: platforms see an intercept's outcome only in the parcel's own movement."""
