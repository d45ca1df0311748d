"""The facility registry from the contractor's disclosure file (CSV).

The contract obliges the contractor to disclose every supplier, every
production facility and what each facility makes, and to notify every change.
A disclosure file is checked whole: one bad row and nothing is imported, and
every problem is reported with its line number. A file that passes is first
stored as a preview of its changes against the registry; applying it changes
the registry in one transaction. Facilities are never deleted: one dropped
from the disclosure becomes inactive. Every applied file is kept as it was
uploaded, the disclosure record the contracting authority and Electronics
Watch ask for.

Facilities without a ``reference`` (entered by hand, e.g. the demo's) are not
part of the disclosure registry: imports leave them alone.
"""

import codecs
import csv
import hashlib
import io
import json
import unicodedata
from dataclasses import asdict, dataclass, field

from babel import Locale
from sqlalchemy import select

from ..models import DisclosureImport, Facility
from . import audit, clock

# The documented column set (docs/facilities.md), in the example's order.
COLUMNS = (
    "facility_id",
    "supplier",
    "supplier_registered_office",
    "facility_name",
    "facility_local_name",
    "address",
    "country",
    "products",
)
# facility_local_name may be left out, or empty: it defaults to facility_name.
OPTIONAL = frozenset({"facility_local_name"})
REQUIRED = tuple(c for c in COLUMNS if c not in OPTIONAL)
# Column -> Facility attribute.
ATTRIBUTES = {
    "supplier": "supplier",
    "supplier_registered_office": "supplier_office",
    "facility_name": "name",
    "facility_local_name": "local_name",
    "address": "address",
    "country": "country",
    "products": "products",
}
# The longest value of each column (the database's limits, or a sane cap).
MAX_LENGTHS = {
    "facility_id": 100,
    "supplier": 300,
    "supplier_registered_office": 2000,
    "facility_name": 300,
    "facility_local_name": 300,
    "address": 2000,
    "country": 2,
    "products": 4000,
}
MAX_BYTES = 5 * 1024 * 1024
# Two-letter territories Babel knows that are not countries or territories of ISO 3166-1.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ"})
COUNTRIES = frozenset(
    code for code in Locale("en").territories
    if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
)
DELIMITERS = (",", ";", "\t")

PROBLEM_CODES = (
    "missing_column", "unknown_column", "duplicate_column", "empty_value", "duplicate_facility",
    "unknown_country", "bad_encoding", "bad_csv", "no_rows", "too_long",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a disclosure file. ``line`` counts from 1, the header;
    it is None for the file as a whole (too big)."""

    line: int | None
    code: str
    column: str | None = None
    value: str | None = None


class DisclosureError(Exception):
    """A file that cannot be imported (``problems``), or an import that cannot be
    applied: ``reason`` is "problems", "not_found", "applied" or "stale"."""

    def __init__(self, reason: str = "problems", problems: list[Problem] | None = None):
        super().__init__(reason if not problems else f"{len(problems)} problems")
        self.reason = reason
        self.problems = problems or []


@dataclass(frozen=True)
class Row:
    """One disclosed facility, as read from its line of the file."""

    line: int
    facility_id: str
    supplier: str
    supplier_registered_office: str
    facility_name: str
    facility_local_name: str
    address: str
    country: str
    products: str

    def values(self) -> dict:
        return {column: getattr(self, column) for column in COLUMNS}


@dataclass
class Changes:
    """What a disclosure changes in the registry, by facility_id.

    added: the columns of each new facility ("returning": it was disclosed
    before, removed since, and is disclosed again). removed: facility_id,
    facility_name, supplier, country. changed: facility_id, facility_name and
    the changed columns as {column: [old, new]}. unmanaged: active facilities
    without a facility_id, which imports leave alone.
    """

    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    unchanged: int = 0
    unmanaged: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Changes":
        data = json.loads(text or "{}")
        return cls(added=data.get("added", []), removed=data.get("removed", []),
                   changed=data.get("changed", []), unchanged=data.get("unchanged", 0),
                   unmanaged=data.get("unmanaged", []))


# -- reading a file ---------------------------------------------------------------------------------------


def _decode(data: bytes, problems: list[Problem]) -> str:
    """The text of the file; every line holding bytes that are not UTF-8 text is a problem."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        problems.append(Problem(1, "bad_encoding", None, "UTF-16"))
        return ""
    body = data.removeprefix(codecs.BOM_UTF8)
    # 0x0A is never part of a multi-byte UTF-8 sequence: lines can be checked one by one.
    for number, line in enumerate(body.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(Problem(number, "bad_encoding", None, _hex(line[error.start:error.end])))
            continue
        if "\x00" in text:
            problems.append(Problem(number, "bad_encoding", None, "\\x00"))
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _hex(raw: bytes) -> str:
    return "".join(f"\\x{byte:02x}" for byte in raw[:4])


def _clean(value: str) -> str:
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(part.strip() for part in value.strip().split("\n"))


def _delimiter(text: str) -> str:
    """Comma; or semicolon or tab when the header has no comma (spreadsheets in many locales)."""
    header = text.split("\n", 1)[0]
    for delimiter in DELIMITERS:
        if delimiter in header:
            return delimiter
    return ","


def parse_disclosure(data: bytes) -> list[Row]:
    """The facilities of a disclosure file, or DisclosureError with every problem found."""
    if len(data) > MAX_BYTES:
        raise DisclosureError(problems=[Problem(None, "too_long", None, str(len(data)))])
    problems: list[Problem] = []
    text = _decode(data, problems)
    if problems and not text:
        raise DisclosureError(problems=problems)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows: list[Row] = []
    header: list[str] | None = None
    positions: dict[str, int] = {}
    first_line: dict[str, int] = {}
    previous_end = 0
    data_lines = 0
    try:
        for cells in reader:
            line, previous_end = previous_end + 1, reader.line_num
            cells = [_clean(cell) for cell in cells]
            if not any(cells):
                continue  # a blank line
            if header is None:
                header = cells
                positions = _read_header(header, problems)
                continue
            data_lines += 1
            row = _read_row(line, cells, header, positions, first_line, problems)
            if row is not None:
                rows.append(row)
    except csv.Error:
        problems.append(Problem(reader.line_num or 1, "bad_csv"))
    if header is None:
        problems.append(Problem(1, "no_rows"))
    elif not data_lines:
        problems.append(Problem(previous_end or 1, "no_rows"))
    if problems:
        raise DisclosureError(problems=sorted(problems, key=lambda p: (p.line or 0,)))
    return rows


def _read_header(header: list[str], problems: list[Problem]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        if name not in COLUMNS:
            problems.append(Problem(1, "unknown_column", name or None, name))
        elif name in positions:
            problems.append(Problem(1, "duplicate_column", name, name))
        else:
            positions[name] = index
    for name in REQUIRED:
        if name not in positions:
            problems.append(Problem(1, "missing_column", name))
    return positions


def _read_row(line, cells, header, positions, first_line, problems) -> Row | None:
    found = len(problems)
    if len(cells) > len(header):
        for extra in cells[len(header):]:
            if extra:
                problems.append(Problem(line, "unknown_column", None, extra))
    values = {name: (cells[index] if index < len(cells) else "") for name, index in positions.items()}
    for name in REQUIRED:
        if name in positions and not values[name]:
            problems.append(Problem(line, "empty_value", name))
    for name, value in values.items():
        if len(value) > MAX_LENGTHS[name] and name != "country":
            problems.append(Problem(line, "too_long", name, value[:40] + "…"))
    country = values.get("country", "").upper()
    if country and country not in COUNTRIES:
        problems.append(Problem(line, "unknown_country", "country", values["country"]))
    reference = values.get("facility_id", "")
    if reference:
        if reference in first_line:
            problems.append(Problem(line, "duplicate_facility", "facility_id", reference))
        else:
            first_line[reference] = line
    if len(problems) > found or any(name not in positions for name in REQUIRED):
        return None
    return Row(
        line=line,
        facility_id=reference,
        supplier=values["supplier"],
        supplier_registered_office=values["supplier_registered_office"],
        facility_name=values["facility_name"],
        facility_local_name=values.get("facility_local_name") or values["facility_name"],
        address=values["address"],
        country=country,
        products=values["products"],
    )


# -- comparing with the registry --------------------------------------------------------------------------


def _facility_values(facility: Facility) -> dict:
    values = {column: getattr(facility, attribute) or "" for column, attribute in ATTRIBUTES.items()}
    values["facility_id"] = facility.reference
    return values


def diff(session, rows: list[Row]) -> Changes:
    """The changes ``rows`` make to the registry: facilities compared by facility_id."""
    registered = {f.reference: f for f in session.scalars(select(Facility).where(Facility.reference.is_not(None)))}
    changes = Changes()
    disclosed = set()
    for row in rows:
        disclosed.add(row.facility_id)
        facility = registered.get(row.facility_id)
        new = row.values()
        if facility is None or not facility.active:
            changes.added.append(dict(new, returning=facility is not None))
            continue
        old = _facility_values(facility)
        fields = {column: [old[column], new[column]] for column in ATTRIBUTES if old[column] != new[column]}
        if fields:
            changes.changed.append({"facility_id": row.facility_id, "facility_name": row.facility_name,
                                    "fields": fields})
        else:
            changes.unchanged += 1
    for reference, facility in sorted(registered.items()):
        if facility.active and reference not in disclosed:
            changes.removed.append({"facility_id": reference, "facility_name": facility.name,
                                    "supplier": facility.supplier, "country": facility.country})
    changes.unmanaged = [
        {"id": f.id, "facility_name": f.name, "country": f.country}
        for f in session.scalars(select(Facility).where(Facility.reference.is_(None), Facility.active.is_(True))
                                 .order_by(Facility.id))
    ]
    return changes


# -- previews, applying, history --------------------------------------------------------------------------


def preview(session, actor, data: bytes) -> DisclosureImport:
    """Check the file and store it with its changes, not applied yet (DisclosureError if bad)."""
    rows = parse_disclosure(data)
    changes = diff(session, rows)
    record = DisclosureImport(
        uploaded_at=clock.now(),
        uploaded_by=getattr(actor, "id", actor),
        applied_at=None,
        digest=hashlib.sha256(data).digest(),
        # As uploaded (a BOM included): encoded again, it is the very file, and matches the digest.
        content=data.decode("utf-8"),
        changes=changes.to_json(),
    )
    session.add(record)
    session.commit()
    return record


def changes_of(record: DisclosureImport) -> Changes:
    return Changes.from_json(record.changes)


def original_file(record: DisclosureImport) -> bytes:
    return record.content.encode("utf-8")


def apply(session, actor, import_id: int) -> DisclosureImport:
    """Apply a preview to the registry, in one transaction with its audit entry.

    A preview is stale, and refused, once another import was applied after it
    was made, or when the registry no longer is what the preview was made against.
    """
    record = session.get(DisclosureImport, import_id)
    if record is None:
        raise DisclosureError("not_found")
    if record.applied_at is not None:
        raise DisclosureError("applied")
    changes = changes_of(record)
    try:
        # First the audit entry: it locks the trail's head, so concurrent applies queue
        # here and each one checks the registry as the one before left it.
        audit.record(session, "disclosure_import", actor, detail={
            "import": record.id, "added": len(changes.added), "removed": len(changes.removed),
            "changed": len(changes.changed),
        }, commit=False)
        record = session.get(DisclosureImport, import_id, populate_existing=True)
        if record.applied_at is not None:
            raise DisclosureError("applied")
        later = session.scalar(select(DisclosureImport.id).where(
            DisclosureImport.id != record.id,
            DisclosureImport.applied_at.is_not(None),
            DisclosureImport.applied_at >= record.uploaded_at,
        ).limit(1))
        rows = parse_disclosure(original_file(record))
        if later is not None or _essence(diff(session, rows)) != _essence(changes):
            raise DisclosureError("stale")
        _apply_rows(session, rows, changes)
        record.applied_at = clock.now()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return record


def _essence(changes: Changes) -> dict:
    # Facilities outside the disclosure registry do not make a preview stale.
    return dict(asdict(changes), unmanaged=None)


def _apply_rows(session, rows: list[Row], changes: Changes) -> None:
    registered = {f.reference: f for f in session.scalars(select(Facility).where(Facility.reference.is_not(None)))}
    touched = {entry["facility_id"] for entry in changes.added} | {e["facility_id"] for e in changes.changed}
    for row in rows:
        if row.facility_id not in touched:
            continue
        facility = registered.get(row.facility_id)
        if facility is None:
            facility = Facility(reference=row.facility_id)
            session.add(facility)
        for column, attribute in ATTRIBUTES.items():
            setattr(facility, attribute, getattr(row, column))
        facility.active = True
    for entry in changes.removed:
        registered[entry["facility_id"]].active = False


def history(session) -> list[DisclosureImport]:
    """The applied imports, newest first."""
    return list(session.scalars(
        select(DisclosureImport).where(DisclosureImport.applied_at.is_not(None))
        .order_by(DisclosureImport.applied_at.desc(), DisclosureImport.id.desc())
    ))


def registry(session) -> list[Facility]:
    """The active facilities, by supplier, country and name."""
    return list(session.scalars(
        select(Facility).where(Facility.active.is_(True))
        .order_by(Facility.supplier, Facility.country, Facility.name, Facility.id)
    ))
