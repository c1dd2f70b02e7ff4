"""The sandbox: a simulated carrier world served over HTTP, speaking Kuaidi100's protocol.

Used by ``lanjie demo`` (mounted under ``/sandbox``), ``lanjie sandbox`` (standalone) and tests.
"""

from __future__ import annotations

from lanjie.sandbox.app import create_sandbox_app, create_standalone_app
from lanjie.sandbox.config import HopSeconds, SandboxConfig
from lanjie.sandbox.world import SandboxWorld

__all__ = ["HopSeconds", "SandboxConfig", "SandboxWorld", "create_sandbox_app", "create_standalone_app"]
