"""Importing after-sales from a spreadsheet export: one case per row, each row on its own savepoint.

A row that fails writes nothing and the others stand; a row whose after-sale already has a case is
reported as ``exists`` (so importing the same export twice changes nothing). Parsing is in
``csv_rows``; this module talks to the database through the unit of work and the use cases in
``commands``, so the rules that ``open_case`` applies apply to imported cases too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from lanjie.carriers.registry import load_carriers, resolve
from lanjie.domain.errors import DomainError, IllegalTransition, NotFound, RuleViolation
from lanjie.domain.model import AfterSale, Item, Party
from lanjie.service import commands, shops
from lanjie.service.csv_rows import FileRefused, ImportRow, ParsedFile, Platform, RowError, parse_file, result_csv
from lanjie.service.ids import utcnow
from lanjie.service.unit_of_work import UnitOfWork
from lanjie.store import repository
from lanjie.store import tables as t
from lanjie.store.db import tenant

__all__ = ["FileRefused", "ImportReport", "Platform", "RowStatus", "import_file", "import_rows", "parse_for_shop",
           "result_csv"]

#: Parcels registered from a row know only the waybill and the carrier; these stand in for the people.
#: Carriers that check the recipient's phone (SF, ZTO) or need the return address cannot be served
#: from them: register such parcels with POST /v1/shipments before importing.
UNKNOWN_SENDER = Party(name="(imported: sender unknown)", phone="0000", address="(imported from CSV: unknown)")
UNKNOWN_RECIPIENT = Party(name="(imported: recipient unknown)", phone="0000", address="(imported from CSV: unknown)")

#: What a domain rule is called in the file's terms.
_FIELD_OF_RULE = {"channel_ref": "aftersale_id", "waybill_no": "waybill_nos"}


class RowStatus(StrEnum):
    created = "created"
    exists = "exists"  # this platform's after-sale already has a case: nothing changed
    failed = "failed"  # nothing of the row was written; ``field`` and ``error`` say why


@dataclass(frozen=True)
class ImportReport:
    """The answer of an import: counts, and one result per row in the file's order."""

    rows: list[dict[str, Any]]
    ignored_columns: list[str]

    @property
    def summary(self) -> dict[str, Any]:
        count = {status: sum(r["status"] == status for r in self.rows) for status in RowStatus}
        return {"rows": len(self.rows), "created": count[RowStatus.created], "exists": count[RowStatus.exists],
                "failed": count[RowStatus.failed], "ignored_columns": self.ignored_columns}

    def as_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "rows": self.rows}

    @property
    def all_handled(self) -> bool:
        return all(r["status"] != RowStatus.failed for r in self.rows)


def parse_for_shop(conn: sa.Connection, shop_id: str, data: bytes, *, platform: Platform | None) -> ParsedFile:
    """The file's rows, with local times read in the shop's time zone."""
    shop = shops.get_shop(conn, shop_id)
    if shop is None:
        raise NotFound("shop", shop_id)
    return parse_file(data, platform=platform, timezone=shop.timezone)


def import_file(engine: sa.Engine, shop_id: str, data: bytes, *, platform: Platform | None) -> ImportReport:
    """Parse and import a whole file in one transaction (the command line's way)."""
    engine = tenant(engine, shop_id)
    with engine.connect() as conn:
        parsed = parse_for_shop(conn, shop_id, data, platform=platform)
    with UnitOfWork(engine, utcnow()) as uow:
        report = import_rows(uow, shop_id, parsed)
        uow.commit()
    return report


def import_rows(uow: UnitOfWork, shop_id: str, parsed: ParsedFile) -> ImportReport:
    """Open a case for every good row of ``parsed``; the caller commits."""
    plugins = load_carriers()
    known = _existing_cases(uow.conn, shop_id, [row for row in parsed.rows if isinstance(row, ImportRow)])
    results = []
    for row in parsed.rows:
        if isinstance(row, RowError):
            results.append(_failed(row.line, row.aftersale_id, row.field, row.error))
            continue
        existing = known.get((row.platform, row.aftersale_id))
        if existing is not None:
            results.append(_result(row.line, row.aftersale_id, RowStatus.exists, existing))
            continue
        try:
            with uow.savepoint():
                case = _open(uow, shop_id, row, plugins)
        except (RuleViolation, IllegalTransition, NotFound) as refused:
            if isinstance(refused, RuleViolation) and refused.rule == "channel_ref":
                results.append(_raced(uow, shop_id, row))
            else:
                results.append(_failed(row.line, row.aftersale_id, _field(refused), str(refused)))
        except sa.exc.IntegrityError:
            results.append(_raced(uow, shop_id, row))
        else:
            results.append(_result(row.line, row.aftersale_id, RowStatus.created, case.id))
    return ImportReport(results, parsed.ignored_columns)


def _raced(uow: UnitOfWork, shop_id: str, row: ImportRow) -> dict[str, Any]:
    """The answer for a row whose after-sale another request imported since the rows were checked."""
    existing = repository.case_by_channel_ref(uow.conn, shop_id=shop_id, channel=row.platform,
                                              channel_ref=row.aftersale_id)
    if existing is not None:
        return _result(row.line, row.aftersale_id, RowStatus.exists, existing)
    return _failed(row.line, row.aftersale_id, "aftersale_id", "changed by another request at the same moment; "
                                                               "import again")


def _existing_cases(conn: sa.Connection, shop_id: str, rows: list[ImportRow]) -> dict[tuple[str, str], str]:
    """The cases the shop already has for these rows' after-sales, by (channel, channel_ref): one query per 500."""
    a = t.aftersales
    found: dict[tuple[str, str], str] = {}
    for start in range(0, len(rows), 500):
        refs = {row.aftersale_id for row in rows[start:start + 500]}
        found.update(((r.channel, r.channel_ref), r.id) for r in conn.execute(
            sa.select(a.c.channel, a.c.channel_ref, a.c.id).where(
                a.c.shop_id == shop_id, a.c.channel.in_(list(Platform)), a.c.channel_ref.in_(refs))))
    return found


def _open(uow: UnitOfWork, shop_id: str, row: ImportRow, plugins: Mapping[str, Any]) -> AfterSale:
    """Register the row's unknown parcels (when it names a carrier), then open its case."""
    unknown = [w for w in row.waybill_nos if uow.shipment_by_waybill(shop_id, w) is None]
    if unknown and row.carrier:
        try:
            carrier, code = resolve(row.carrier, plugins=plugins)
        except ValueError as exc:  # UnknownCarrier is one too
            raise RuleViolation("carrier", f"carrier {row.carrier!r}: {exc}") from None
        value_fen = row.value_fen if row.value_fen is not None else row.paid_fen or row.refund_fen
        # Several new parcels share the row's value, the remainder on the first, so the total stays right.
        share, remainder = divmod(value_fen, len(unknown))
        for i, waybill_no in enumerate(unknown):
            parcel_fen = share + (remainder if i == 0 else 0)
            commands.register_shipment(uow, shop_id, commands.NewShipment(
                carrier=carrier, carrier_code=code, waybill_no=waybill_no, order_id=row.order_id,
                items=[Item(sku=row.order_id, name="imported", qty=1, price_fen=parcel_fen)],
                value_fen=parcel_fen, freight_fen=(row.freight_fen or 0) if i == 0 else 0,
                sender=UNKNOWN_SENDER, recipient=UNKNOWN_RECIPIENT))
    elif unknown:
        raise RuleViolation("waybill_nos", f"waybill {unknown[0]} is not registered: register it first "
                                           f"(POST /v1/shipments) or give the carrier column")
    return commands.open_case(uow, shop_id, commands.NewCase(
        order_id=row.order_id, type=row.type, refund_fen=row.refund_fen, waybill_nos=list(row.waybill_nos),
        reason=row.reason, channel=row.platform, channel_ref=row.aftersale_id, paid_fen=row.paid_fen,
        deadline_at=row.deadline_at))


def _field(refused: DomainError) -> str:
    if isinstance(refused, RuleViolation):
        return _FIELD_OF_RULE.get(refused.rule, refused.rule)
    return ""


def _result(line: int, aftersale_id: str, status: RowStatus, case_id: str | None) -> dict[str, Any]:
    return {"row": line, "aftersale_id": aftersale_id, "status": status, "case_id": case_id, "field": None,
            "error": None}


def _failed(line: int, aftersale_id: str, field: str, error: str) -> dict[str, Any]:
    return {"row": line, "aftersale_id": aftersale_id, "status": RowStatus.failed, "case_id": None,
            "field": field, "error": error}
