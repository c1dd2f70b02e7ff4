"""Batch approval (``taobao.rp.refunds.agree``): splitting into calls and reading the per-refund results.

One call agrees up to ``count_limit`` refunds worth up to ``fen_limit`` together (Taobao 20 and
6,000 yuan, Tmall 30 and 10,000 yuan, both inclusive). ``refund_infos`` lists
``refund_id|amount_in_fen|refund_version|refund_phase`` joined by commas (wire.md). The answer's
``msg_code`` is OP_SUCC (all agreed), SOME_OP_SUCC (some) or OP_FAILURE_UE (none), with one
``{refund_id, succ, message}`` per refund under ``results.refund_mapping_result``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lanjie.channels.base import ApproveItem
from lanjie.channels.errors import ChannelRejected, RejectionKind

from . import codes, wire

METHOD = "taobao.rp.refunds.agree"
ALL_AGREED, SOME_AGREED, NONE_AGREED = "OP_SUCC", "SOME_OP_SUCC", "OP_FAILURE_UE"
#: Sent when a case does not say its phase: a refund before the buyer confirms receipt is 售中 (onsale).
DEFAULT_PHASE = "onsale"


@dataclass(frozen=True)
class Limits:
    """How much one approval call may carry."""

    count: int
    fen: int


def phase_of(item: ApproveItem) -> str:
    """The refund's ``refund_phase`` (onsale / aftersale) as read from the platform."""
    return wire.text_of(item.case.raw, "refund_phase") or DEFAULT_PHASE


def refund_info(item: ApproveItem) -> str:
    """One ``refund_infos`` entry: ``refund_id|amount_in_fen|refund_version|refund_phase``."""
    case = item.case
    return "|".join((case.ref, str(case.refund_fen), case.version, phase_of(item)))


def plan(items: Sequence[ApproveItem], limits: Limits) -> tuple[list[list[int]], dict[int, ChannelRejected]]:
    """Indexes of ``items`` grouped into calls, in order, and the items refused before any call.

    An item whose own amount passes the amount limit can never be sent through the API (the platform
    would ask for the seller's SMS code or refuse it): it goes to a person. An item whose id or
    version is not a number is a bug or bad data, refused as invalid.
    """
    calls: list[list[int]] = []
    refused: dict[int, ChannelRejected] = {}
    current: list[int] = []
    current_fen = 0
    for index, item in enumerate(items):
        case = item.case
        if case.refund_fen > limits.fen:
            refused[index] = ChannelRejected(
                "amount-over-limit", f"refund {case.ref} of {case.refund_fen} fen passes the {limits.fen} fen "
                f"an approval call may carry: agree it in the seller back office", RejectionKind.needs_person)
            continue
        if not (case.ref.isascii() and case.ref.isdigit() and case.version.isascii() and case.version.isdigit()):
            refused[index] = ChannelRejected("invalid-parameter", f"refund {case.ref!r} version {case.version!r} "
                                             "are not numbers", RejectionKind.invalid)
            continue
        if current and (len(current) >= limits.count or current_fen + case.refund_fen > limits.fen):
            calls.append(current)
            current, current_fen = [], 0
        current.append(index)
        current_fen += case.refund_fen
    if current:
        calls.append(current)
    return calls, refused


def mapping_results(content: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The per-refund results by refund id (``results.refund_mapping_result`` or a bare list)."""
    results = content.get("results")
    if isinstance(results, Mapping):
        results = results.get("refund_mapping_result")
    if not isinstance(results, list):
        return {}
    return {wire.text_of(entry, "refund_id"): entry for entry in results if isinstance(entry, Mapping)}


def item_error(entry: Mapping[str, Any], msg_code: str) -> ChannelRejected:
    """The rejection of one refund the batch did not agree; the message names the reason."""
    message = wire.text_of(entry, "message") or msg_code
    kind = codes.item_rejection_kind(message)
    code = next((hint for hint, _ in codes.ITEM_MESSAGE_HINTS if hint.startswith("isv.") and hint in message),
                msg_code or "OP_FAILURE")
    return ChannelRejected(code, message, kind)


def outcomes(content: Mapping[str, Any], refs: Sequence[str]) -> list[ChannelRejected | None]:
    """Per refund of one call (in ``refs`` order): None when agreed, else why not.

    A refund the answer does not mention under SOME_OP_SUCC or OP_FAILURE_UE has an unknown outcome:
    it comes back as ``stale`` so that lanjie reads the case again before deciding anything.
    """
    msg_code = wire.text_of(content, "msg_code")
    by_ref = mapping_results(content)
    out: list[ChannelRejected | None] = []
    for ref in refs:
        entry = by_ref.get(ref)
        if entry is not None:
            out.append(None if wire.flag_of(entry, "succ") else item_error(entry, msg_code))
        elif msg_code == ALL_AGREED or (not msg_code and wire.flag_of(content, "succ")):
            out.append(None)
        elif msg_code == NONE_AGREED:
            out.append(item_error({"message": wire.text_of(content, "message")}, msg_code))
        else:
            out.append(ChannelRejected(msg_code or "no-result", f"the answer has no result for refund {ref}: "
                                       "read the case again", RejectionKind.stale))
    return out
