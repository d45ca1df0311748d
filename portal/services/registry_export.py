"""The facility registry as the "completed document" the contract asks for.

The contractor notifies the contracting authority and Electronics Watch of
every supplier, facility and product "by way of a completed document"; the
portal's registry is that disclosure as imported. Exported here as one CSV file
or one XLSX workbook: every disclosed facility (removed ones marked so), then
the change log, one line per change of every applied import (its day, who
imported it, the file's digest, what changed). Every export is audited.
"""

import csv
import io

from sqlalchemy import select

from ..models import DisclosureImport, Facility, User
from . import audit
from .registry import ATTRIBUTES, COLUMNS, changes_of, history

FACILITY_COLUMNS = (*COLUMNS, "status")
LOG_COLUMNS = ("import", "day", "imported_by", "file_sha256", "change", "facility_id", "facility_name",
               "column", "before", "after")
# A cell a spreadsheet would run as a formula starts so; written with a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def facility_rows(session) -> list[list[str]]:
    facilities = session.scalars(select(Facility).where(Facility.reference.is_not(None))
                                 .order_by(Facility.active.desc(), Facility.supplier, Facility.country,
                                           Facility.name, Facility.reference))
    return [[facility.reference, *(getattr(facility, ATTRIBUTES[c]) or "" for c in COLUMNS[1:]),
             "active" if facility.active else "removed"] for facility in facilities]


def log_rows(session) -> list[list[str]]:
    imports = sorted(history(session), key=lambda record: (record.applied_at, record.id))
    names = dict(session.execute(select(User.id, User.display_name)
                                 .where(User.id.in_({i.uploaded_by for i in imports if i.uploaded_by}))).all())
    rows = []
    for record in imports:
        lead = [str(record.id), record.applied_at.date().isoformat(),
                names.get(record.uploaded_by, "") if record.uploaded_by else "command line", record.digest.hex()]
        rows.extend(lead + entry for entry in _changes(record))
    return rows


def _changes(record: DisclosureImport) -> list[list[str]]:
    changes = changes_of(record)
    entries = [["disclosed_again" if e.get("returning") else "added", e["facility_id"], e["facility_name"],
                "", "", ""] for e in changes.added]
    entries += [["removed", e["facility_id"], e["facility_name"], "", "", ""] for e in changes.removed]
    entries += [["changed", e["facility_id"], e["facility_name"], column, old, new]
                for e in changes.changed for column, (old, new) in e["fields"].items()]
    return entries or [["no_change", "", "", "", "", ""]]


def export(session, actor, kind: str) -> bytes:
    """The registry and its change log as CSV or XLSX, the export audited."""
    facilities, log = facility_rows(session), log_rows(session)
    data = _workbook(facilities, log) if kind == "xlsx" else _csv(facilities, log)
    audit.record(session, "registry_export", actor, detail={"format": kind, "facilities": len(facilities)})
    return data


def _safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _csv(facilities, log) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FACILITY_COLUMNS)
    writer.writerows([_safe(v) for v in row] for row in facilities)
    writer.writerow([])
    writer.writerow(["change_log"])
    writer.writerow(LOG_COLUMNS)
    writer.writerows([_safe(v) for v in row] for row in log)
    # With a byte order mark, spreadsheets open it as UTF-8.
    return out.getvalue().encode("utf-8-sig")


def _workbook(facilities, log) -> bytes:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = openpyxl.Workbook(write_only=True)
    for title, header, rows in (("Facilities", FACILITY_COLUMNS, facilities), ("Change log", LOG_COLUMNS, log)):
        sheet = book.create_sheet(title)
        sheet.append(list(header))
        for row in rows:
            cells = []
            for value in row:
                cell = openpyxl.cell.WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
                cell.data_type = "s"  # text, never a formula, whatever it starts with
                cells.append(cell)
            sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
