"""The UPS twin: Delivery Intercept v2, its OAuth token endpoint and the Track API, under ``/sandbox/ups``.

What is documented and what is a sandbox choice is listed in ``lanjie.sandbox.ups.wire``. Written from
the protocol description (carrier-protocols.md §13, §22), independently of ``lanjie.carriers.ups``.
"""

from __future__ import annotations

from lanjie.sandbox.ups.twin import UPSTwin

__all__ = ["UPSTwin"]
