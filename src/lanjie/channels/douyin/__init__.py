"""Douyin (抖店开放平台) as a lanjie sales channel.

What lanjie reads: ``/afterSale/Detail`` (the case, its lock ``update_time``, deadline, arbitration,
forward parcels and the order's paid amount) and the message push (tags 200–227, trade 102/104/105).
What it writes: ``/afterSale/operate`` (201 agree a refund-only case after shipment, 111 agree a
return-and-refund once the goods are back, 202 refuse), ``/afterSale/returnGoodsToWareHouseSuccess``
and ``/afterSale/submitEvidence``. Sources: sales-platforms.md §1; minibear2021/doudian ``core.py``
(signing, push verification); zsmhub/doudian-sdk ``api/`` and ``message/`` (field names).

Decisions where the reference is silent are shared with the sandbox's Douyin simulator and marked
*decision* in ``codes`` and ``wire``: a bad token answers ``40003 isv.access-token-invalid``, a bad
signature ``40004 isv.parameter-invalid:sign``, a stale ``update_time`` ``50002
isv.business-failed:20309541`` (as a wrong status); the company-code table; the arbitration and type
mappings of codes Douyin documents loosely. docs/channels.md lists them all.

The intercept itself (``afterSale/applyLogisticsIntercept``) is not here: lanjie intercepts with the
carrier directly, and ``commit_intercept`` raises NotSupported.
"""

from __future__ import annotations

from .adapter import DEFAULT_ENDPOINTS, Douyin
from .codes import PUSH_ACK, PUSH_REJECT

__all__ = ["DEFAULT_ENDPOINTS", "PUSH_ACK", "PUSH_REJECT", "Douyin"]
