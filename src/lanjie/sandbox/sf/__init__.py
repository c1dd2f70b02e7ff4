"""SF Express (顺丰, 丰桥 open platform) in the sandbox: the twin and its wire formats."""

from __future__ import annotations

from .twin import SFTwin

__all__ = ["SFTwin"]
