"""Taobao / Tmall (淘宝 / 天猫) on the TOP open platform: refunds, the intercept commitment, TMC messages.

Documented (sales-platforms.md §2; bububa/opentaobao metadata; tmc.js types) and followed: the TOP
router (``POST {api}/router/rest``, md5-signed form, ``<method>_response`` / ``error_response``);
``taobao.refund.get`` (status, dispute_type, good_status, cs_status, refund_version, refund_remind_timeout,
attribute …) and ``taobao.refund.detail.get`` (allowed_operations); ``taobao.rp.refund.intercept``
(卖家发起拦截: the seller commits to intercept and refund within 5 days); ``taobao.rp.refunds.agree``
(batch approval with per-refund results) and ``taobao.refund.refuse``.

*Decisions* shared with the sandbox's Taobao simulator (wire.md), kept in ``wire``/``codes``/``approve``/
``messages`` so real values drop in: the error sub-codes ``isv.refund-version-expired`` (stale),
``isv.refund-status-not-support`` (refused) and ``isv.need-verify-code`` (needs a person); amounts in
``refund_infos`` in fen; the per-refund results ``results.refund_mapping_result[{refund_id, succ, message}]``;
the ``allowed_operations`` shape; the TMC HTTP relay (headers ``x-lanjie-tmc-appkey`` /
``x-lanjie-tmc-sign``, ack ``{"result":"success"}``), a lanjie convention, since TMC itself is a
long-lived connection. Lanjie's own choices are in each module's docstrings and docs/channels.md.

Not offered: confirm_received and submit_evidence (no open API; NotSupported).
"""

from __future__ import annotations

from .adapter import CREDENTIAL_NAMES, DEFAULT_ENDPOINTS, PLATFORM_LIMITS, Taobao
from .messages import PUSH_ACK, PUSH_REJECT, relay_sign

__all__ = ["CREDENTIAL_NAMES", "DEFAULT_ENDPOINTS", "PLATFORM_LIMITS", "PUSH_ACK", "PUSH_REJECT", "Taobao",
           "relay_sign"]
