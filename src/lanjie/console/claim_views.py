"""What the claims pages show, read from the shop's tables with the functions the claims API uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from lanjie import files
from lanjie.domain.claims import Claim
from lanjie.domain.states import CLAIM_TRANSITIONS, ClaimStatus, ClaimType
from lanjie.store import returns as store
from lanjie.store import tables as t

LIST_LIMIT = 200
#: Statuses a person may type in from what the carrier said; ``filed`` is the file button's, ``paid`` the
#: payout form's.
TYPED_STATUSES = (ClaimStatus.in_review, ClaimStatus.waiting_on_documents, ClaimStatus.approved,
                  ClaimStatus.approved_partial, ClaimStatus.rejected, ClaimStatus.closed)
#: Statuses in which the carrier's payout may be recorded.
PAYABLE = frozenset({ClaimStatus.approved, ClaimStatus.approved_partial, ClaimStatus.paid})
BADGES = {ClaimStatus.draft: "", ClaimStatus.filed: "info", ClaimStatus.in_review: "info",
          ClaimStatus.waiting_on_documents: "warn", ClaimStatus.approved: "ok", ClaimStatus.approved_partial: "ok",
          ClaimStatus.rejected: "bad", ClaimStatus.paid: "ok", ClaimStatus.closed: ""}


def choice(kind: Any, value: str | None) -> Any:
    """``value`` as a member of the enum ``kind``, or None for empty or unknown (a filter left open)."""
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def list_claims(conn: sa.Connection, shop_id: str, *, status: ClaimStatus | None,
                type: ClaimType | None) -> tuple[list[Claim], int]:
    """The shop's claims, newest first (at most LIST_LIMIT), and how many match in all."""
    c = t.claims
    query = sa.select(c.c.id).where(c.c.shop_id == shop_id)
    if status is not None:
        query = query.where(c.c.status == status)
    if type is not None:
        query = query.where(c.c.type == type)
    total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    ids = conn.execute(query.order_by(c.c.created_at.desc(), c.c.id.desc()).limit(LIST_LIMIT)).scalars().all()
    found = [store.get_claim(conn, shop_id=shop_id, claim_id=i) for i in ids]
    return [f[0] for f in found if f is not None], int(total)


@dataclass(frozen=True)
class Evidence:
    file: files.EvidenceFile
    source: str  # inspection | return | added | documents

    @property
    def image(self) -> bool:
        return self.file.media_type in files.IMAGE_TYPES


def _documents_sent(conn: sa.Connection, shop_id: str, claim_id: str) -> list[str]:
    """The file ids sent to the carrier as the documents it asked for (kept on the claim's events)."""
    e = t.events
    rows = conn.execute(sa.select(e.c.payload).where(
        e.c.shop_id == shop_id, e.c.subject_type == "claim", e.c.subject_id == claim_id,
        e.c.type == f"claim.{ClaimStatus.in_review}").order_by(e.c.id)).scalars()
    return [str(i) for payload in rows for i in (payload or {}).get("files") or ()]


def evidence_of(conn: sa.Connection, claim: Claim) -> list[Evidence]:
    """The claim's evidence files: the inspection's photos, the return's, those people added, then the
    documents sent."""
    leg = store.get_leg(conn, shop_id=claim.shop_id, leg_id=claim.return_id)
    sources: dict[str, str] = {}
    for file_id in (claim.evidence.get("inspection") or {}).get("photos", []):
        sources.setdefault(file_id, "inspection")
    for file_id in leg.photos if leg else []:
        sources.setdefault(file_id, "return")
    for added in claim.evidence.get("files", []):
        sources.setdefault(added["file_id"], "added")
    for file_id in _documents_sent(conn, claim.shop_id, claim.id):
        sources.setdefault(file_id, "documents")
    return [Evidence(f, sources[f.id]) for f in files.files_of(conn, shop_id=claim.shop_id, ids=sources)]


def next_statuses(claim: Claim) -> list[ClaimStatus]:
    """What a person may record the claim as next, from the transition table, in the table's order."""
    allowed = CLAIM_TRANSITIONS[claim.status]
    return [s for s in TYPED_STATUSES if s in allowed]
