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

import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace

from babel import Locale
from babel.core import get_global
from sqlalchemy import select

from ..models import DisclosureImport, Facility
from . import audit, clock, disclosure_files
from .disclosure_files import DisclosureError, Problem

__all__ = ["DisclosureError", "Problem"]

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
# facility_local_name may be left out, or empty: it defaults to facility_name. facility_id may be
# left out, or empty: the facility is then known by its supplier, name and address (derived_reference).
OPTIONAL = frozenset({"facility_id", "facility_local_name"})
REQUIRED = tuple(c for c in COLUMNS if c not in OPTIONAL)
# Columns a file may spread over several (an address as street, city and postal code; products as
# main and other products): their values are joined, in the file's order.
JOINED = frozenset({"supplier_registered_office", "address", "products"})
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
MAX_BYTES = disclosure_files.MAX_BYTES
# Two-letter territories Babel knows that are not countries or territories of ISO 3166-1.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ"})
COUNTRIES = frozenset(
    code for code in Locale("en").territories
    if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
)
DERIVED_PREFIX = "auto-"

PROBLEM_CODES = (
    "missing_column", "unknown_column", "duplicate_column", "empty_value", "duplicate_facility",
    "duplicate_derived", "unknown_country", "bad_encoding", "bad_csv", "no_rows", "too_long", "not_text",
    "bad_workbook", "old_workbook", "workbook_too_big", "too_many_rows", "too_many_columns", "formula",
)


def fold(text: str) -> str:
    """Text compared loosely: no accents, case, punctuation or repeated spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


# Header names contractors write, in English, French and Dutch (compared folded). Generous on
# purpose: a name not here is placed by the administrator on the preview page, never guessed.
HEADER_NAMES = {
    "facility_id": """facility id; facility identifier; facility code; facility ref; facility reference;
        facility number; facility no; site id; site code; site reference; factory id; factory code; plant id;
        id; ref; reference; identifiant; identifiant du site; identifiant site; id site; id du site; code site;
        code du site; reference du site; reference site; numero du site; id usine; code usine; referentie;
        id vestiging; vestiging id; vestigingsnummer; code vestiging; locatie id; id locatie;
        productielocatie id; id productielocatie""",
    "supplier": """supplier; supplier name; name of supplier; name of the supplier; supplier s name;
        supplier company; supplier company name; supplier legal name; direct supplier; tier 1 supplier;
        vendor; vendor name; manufacturer; fournisseur; nom du fournisseur; nom fournisseur;
        raison sociale du fournisseur; fournisseur direct; fabricant; leverancier; naam leverancier;
        naam van de leverancier; leveranciersnaam; naam van leverancier; fabrikant; producent;
        supplier legal entity; supplier legal entity name; tier 1 supplier name; nom de la societe fournisseur;
        societe fournisseur; fournisseur de rang 1; naam van het bedrijf leverancier""",
    "supplier_registered_office": """registered office; supplier office; supplier registered office;
        registered office of the supplier; supplier s registered office; registered address;
        registered office address; supplier address; supplier registered address;
        supplier registered office address; head office; headquarters; supplier headquarters; siege;
        siege social; siege social du fournisseur; siege du fournisseur; adresse du siege;
        adresse du siege social; adresse du fournisseur; maatschappelijke zetel; zetel; statutaire zetel;
        maatschappelijke zetel leverancier; zetel leverancier; adres leverancier; adres van de leverancier;
        hoofdkantoor; legal address; supplier legal address; adresse legale; adresse du siege social du fournisseur;
        maatschappelijke zetel adres; adres maatschappelijke zetel; adres hoofdkantoor""",
    "facility_name": """facility; facility name; name of facility; name of the facility; production facility;
        production facility name; manufacturing facility; manufacturing facility name; site; site name;
        production site; production site name; factory; factory name; plant; plant name; company name;
        facility company name; usine; nom de l usine; site de production; nom du site;
        nom du site de production; etablissement; lieu de production; installation de production;
        unite de production; productielocatie; naam productielocatie; productiesite; productievestiging;
        vestiging; naam vestiging; naam van de vestiging; fabriek; naam fabriek; bedrijfsnaam;
        name of production site; name of the production site; facility legal name; nom de l etablissement;
        nom du site de fabrication; site de fabrication; naam productiesite; naam van de productielocatie;
        naam productievestiging""",
    "facility_local_name": """local name; facility local name; name in local language;
        name in the local language; name in local script; name in the local script; local language name;
        nom local; nom en langue locale; nom dans la langue locale; lokale naam; naam in de lokale taal;
        naam in lokaal schrift""",
    "address": """address; facility address; site address; factory address; plant address;
        production site address; business address; full address; full business address;
        address of the facility; adresse; adresse du site; adresse de l usine; adresse du site de production;
        adresse complete; adresse de l etablissement; adres; adres vestiging; adres productielocatie;
        adres van de vestiging; adres fabriek; volledig adres; bedrijfsadres; vestigingsadres;
        street address; site location address; facility location; adresse du site de fabrication;
        adresse de production; adres productiesite; adres van de productielocatie""",
    "country": """country; country code; facility country; iso country; iso country code; country iso;
        pays; code pays; pays du site; land; landcode; land vestiging; country of production;
        country of facility; country of the facility; country region; country of origin; facility country code;
        pays de production; pays du site de production; pays d implantation; land van vestiging;
        land van productie; land productielocatie""",
    "products": """products; product; products or components; products components; components; component;
        goods; products made; products manufactured; produits; produit; produits ou composants; composants;
        produits fabriques; producten; onderdelen; componenten; producten of componenten;
        geproduceerde producten; products supplied; goods supplied; commodity; commodities; product category;
        product categories; product type; products produced; produits fournis; type de produits;
        categorie de produits; geleverde producten; producttype; productcategorie; productgroep""",
}
_PLACES = {fold(column): column for column in COLUMNS}
_PLACES.update({fold(name): column for column, names in HEADER_NAMES.items() for name in names.split(";")})
# Country names in the languages of the contract's parties, for files that spell them out (CLDR's
# names, through Babel), and the three-letter ISO codes.
_COUNTRY_NAMES = {
    fold(name.replace("&", conjunction)): code for language, conjunction in (("en", "and"), ("fr", "et"),
                                                                             ("nl", "en"), ("de", "und"))
    for code, name in Locale(language).territories.items() if code in COUNTRIES
}
_COUNTRY_NAMES.update({
    fold(name): code for language in ("en", "fr", "nl", "de")
    for code, name in Locale(language).territories.items() if code in COUNTRIES
})
_COUNTRY_NAMES.update({
    fold(alias): codes[0] for alias, codes in get_global("territory_aliases").items()
    if len(alias) == 3 and alias.isalpha() and len(codes) == 1 and codes[0] in COUNTRIES
})
# Names CLDR gives as variants or not at all, but spreadsheets write: ISO 3166's own short names
# ("Korea, Republic of"), former names, and the usual short forms.
_COUNTRY_NAMES.update({fold(name): code for code, names in {
    "CZ": "Czech Republic; République tchèque; Tsjechische Republiek",
    "HK": "Hong Kong; Hong Kong SAR; Hong Kong S A R; Hong Kong China; Hongkong; Hong Kong Chine",
    "MO": "Macau; Macao; Macau SAR; Macao SAR; Macau S A R; Macao S A R",
    "CN": "PRC; P R China; People s Republic of China; China PR; Mainland China; China mainland; "
          "China People s Republic of; République populaire de Chine; Volksrepubliek China",
    "TW": "Taiwan Province of China; Taiwan ROC; Chinese Taipei",
    "KR": "Korea Republic of; Republic of Korea; Korea South; République de Corée; Korea Zuid",
    "VN": "Viet Nam; Socialist Republic of Vietnam",
    "US": "USA; U S A; United States of America; Etats Unis d Amérique; Verenigde Staten van Amerika",
    "GB": "UK; U K; Great Britain; Britain; England; Scotland; Wales; Northern Ireland; Grande Bretagne; "
          "Angleterre; Groot Brittannië; Engeland",
    "TR": "Turkey; Turkije",
    "NL": "Holland; The Netherlands",
    "MM": "Burma",
    "CI": "Ivory Coast",
    "LA": "Lao PDR; Lao People s Democratic Republic",
    "RU": "Russian Federation",
    "MD": "Moldova Republic of",
    "IR": "Iran Islamic Republic of",
    "SZ": "Swaziland",
    "MK": "Macedonia",
}.items() for name in names.split(";")})
HEADER_SEARCH = 20  # title rows a spreadsheet may have above its header


# A template's numbering before a header name: "1.", "2)", "A.", "b)", "3 -".
_NUMBERING = re.compile(r"^\s*(?:\d{1,2}|[A-Za-z])\s*[.):\-]\s+")


def _named_alike(text: str, read, separators: str) -> str | None:
    """What ``text`` names by ``read``, whole or without a remark in brackets; else, cut at
    ``separators`` (several languages, or a code and a name), what all its parts name alike."""
    for candidate in (text, re.sub(r"\(.*?\)|\[.*?\]", " ", text)):
        found = read(candidate)
        if found:
            return found
    parts = [part for part in re.split(separators, text) if part.strip()]
    named = {read(part) for part in parts} if len(parts) > 1 else {None}
    return named.pop() if len(named) == 1 else None


def place(name: str) -> str | None:
    """The column of the disclosure a header cell names, or None. A cell may name it in several
    languages ("Adres / Adresse", one under the other): the names it gives must agree."""
    return _named_alike(name, _place_one, r"\s*[/|\n]\s*")


def _place_one(name: str) -> str | None:
    for text in (name, _NUMBERING.sub("", name)):
        if fold(text) in _PLACES:
            return _PLACES[fold(text)]
    return None


def header_index(rows) -> int | None:
    """Which of the first rows is the header: the first naming three columns of the disclosure."""
    for index, (_line, cells) in enumerate(rows[:HEADER_SEARCH]):
        if len({place(cell) for cell in cells} - {None}) >= 3:
            return index
    return None


def country_code(value: str) -> str | None:
    """The ISO code of a country given by its code (two or three letters) or its name in English,
    French, Dutch or German, with or without a remark in brackets ("China (PRC)"), or as "VN -
    Vietnam", "Vietnam / Viêt Nam" (the parts must name the same country)."""
    return _named_alike(value, _country_one, r"\s+[-–|]\s+|/")


def _country_one(text: str) -> str | None:
    code = text.strip().upper()
    if code in COUNTRIES:
        return code
    return _COUNTRY_NAMES.get(fold(text))


def identity_key(supplier: str, name: str, address: str) -> str:
    return "\x1f".join(fold(part) for part in (supplier, name, address))


def derived_reference(supplier: str, name: str, address: str) -> str:
    """The facility_id of a facility disclosed without one: the same supplier, name and
    address (compared folded) give the same id in every file."""
    digest = hashlib.sha256(identity_key(supplier, name, address).encode("utf-8")).hexdigest()
    return DERIVED_PREFIX + digest[:12]


@dataclass(frozen=True)
class Row:
    """One disclosed facility, as read from its line of the file. ``derived``: its
    facility_id was made from its supplier, name and address (the file had none)."""

    line: int
    facility_id: str
    supplier: str
    supplier_registered_office: str
    facility_name: str
    facility_local_name: str
    address: str
    country: str
    products: str
    derived: bool = False

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


@dataclass(frozen=True)
class Layout:
    """A file's table and its header. ``placed``: the column of the disclosure each header
    cell names; None for one that names none (the administrator places it), "" for a
    nameless column without a value, which is ignored."""

    table: disclosure_files.Table
    header_line: int
    header: list[str]
    placed: list[str | None]
    problems: list[Problem]

    @property
    def unplaced(self) -> list[int]:
        return [index for index, column in enumerate(self.placed) if column is None]

    @property
    def body(self):
        return [(line, cells) for line, cells in self.table.rows if line > self.header_line]


def read_layout(data: bytes, filename: str = "") -> Layout:
    """The table of a file and its header, or DisclosureError if it cannot be read at all."""
    problems: list[Problem] = []
    try:
        table = disclosure_files.read_table(data, filename, lambda rows: header_index(rows) is not None)
    except disclosure_files.PartlyRead as partly:
        table, problems = partly.table, partly.problems
    if not table.rows:
        raise DisclosureError(problems=problems or [Problem(1, "no_rows")])
    at = header_index(table.rows)
    if at is None:
        # No row names three columns: the header is still the widest of the first rows (not the
        # title above it), and the administrator places its columns.
        widths = [sum(1 for cell in cells if cell) for _line, cells in table.rows[:HEADER_SEARCH]]
        at = widths.index(max(widths))
    header_line, header = table.rows[at]
    body = table.rows[at + 1:]
    # A header over two rows: "Supplier" above "Name" and "Registered office", "Production facility"
    # above "Name", "Address"... (a merged cell holds its text in its first column only).
    above = table.rows[at - 1][1] if at and table.rows[at - 1][0] == header_line - 1 else []
    group, groups = "", []
    for index in range(len(header)):
        group = (above[index] if index < len(above) else "") or group
        groups.append(group)
    placed = []
    for index, name in enumerate(header):
        column = (place(name) or (place(f"{groups[index]} {name}") if groups[index] else None)) if name else None
        if not name and not any(index < len(cells) and cells[index] for _line, cells in body):
            column = ""
        placed.append(column)
    # Two columns named for one value (two "Supplier" columns: its name and its code?): which one
    # holds it is for the administrator to say, never guessed.
    twice = {c for c in placed if c and c not in JOINED and placed.count(c) > 1}
    placed = [None if column in twice else column for column in placed]
    return Layout(table, header_line, header, placed, problems)


def rows_of(layout: Layout, columns: list[str | None] | None = None) -> list[Row]:
    """The rows of ``layout`` read with ``columns`` (by default as placed by their names); a
    column placed nowhere (None) is a problem."""
    problems = list(layout.problems)
    header_line = layout.header_line
    if columns is None:
        columns = layout.placed
    elif len(columns) != len(layout.header) or any(c is not None and c not in COLUMNS and c != ""
                                                   for c in columns):
        raise DisclosureError("stale")
    for index, column in enumerate(columns):
        if column is None:
            name = layout.header[index]
            if name and place(name):
                if not any(p.code == "duplicate_column" and p.column == place(name) for p in problems):
                    problems.append(Problem(header_line, "duplicate_column", place(name), name))
            else:
                problems.append(Problem(header_line, "unknown_column", name or None, name))
    positions: dict[str, list[int]] = {}
    for index, column in enumerate(columns):
        if not column:
            continue
        if column in positions and column not in JOINED:
            if not any(p.code == "duplicate_column" and p.column == column for p in problems):
                problems.append(Problem(header_line, "duplicate_column", column, layout.header[index]))
        else:
            positions.setdefault(column, []).append(index)
    for name in REQUIRED:
        if name not in positions and not any(p.code == "duplicate_column" and p.column == name for p in problems):
            problems.append(Problem(header_line, "missing_column", name))
    rows: list[Row] = []
    at: dict[str, int] = {}  # facility_id -> its row's index in rows
    products: dict[str, list[str]] = {}  # facility_id -> the products of each of its lines
    body = layout.body
    for line, cells in body:
        row = _read_row(line, cells, len(layout.header), positions, problems)
        if row is None:
            continue
        if row.facility_id not in at:
            at[row.facility_id] = len(rows)
            rows.append(row)
            products[row.facility_id] = [row.products]
        elif _same_facility(rows[at[row.facility_id]], row):
            products[row.facility_id].append(row.products)
        else:
            code = "duplicate_derived" if row.derived else "duplicate_facility"
            problems.append(Problem(line, code, "facility_id", row.facility_id))
    # A facility listed on several lines, the same but for its products (a line for each product, or
    # a line copied twice), is one facility making them all: in an order that does not depend on the
    # order of the lines, so the same file sorted otherwise changes nothing.
    for index, row in enumerate(rows):
        made = list(dict.fromkeys(products[row.facility_id]))
        if len(made) > 1:
            rows[index] = replace(row, products=", ".join(sorted(made, key=lambda text: (fold(text), text))))
    if not body:
        problems.append(Problem(header_line, "no_rows"))
    if problems:
        raise DisclosureError(problems=sorted(problems, key=lambda p: (p.line or 0,)))
    return rows


def _same_facility(earlier: Row, row: Row) -> bool:
    return replace(row, line=earlier.line, products=earlier.products) == earlier


def _read_row(line, cells, width, positions, problems) -> Row | None:
    found = len(problems)
    if len(cells) > width:
        for extra in cells[width:]:
            if extra:
                problems.append(Problem(line, "unknown_column", None, extra))
    values = {name: ", ".join(cells[index] for index in indexes if index < len(cells) and cells[index])
              for name, indexes in positions.items()}
    for name in REQUIRED:
        if name in positions and not values[name]:
            problems.append(Problem(line, "empty_value", name))
    for name, value in values.items():
        if len(value) > MAX_LENGTHS[name] and name != "country":
            problems.append(Problem(line, "too_long", name, value[:40] + "…"))
    country = ""
    if values.get("country"):
        country = country_code(values["country"]) or ""
        if not country:
            problems.append(Problem(line, "unknown_country", "country", values["country"]))
    reference = values.get("facility_id", "")
    derived = not reference
    if derived and all(values.get(name) for name in ("supplier", "facility_name", "address")):
        reference = derived_reference(values["supplier"], values["facility_name"], values["address"])
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
        derived=derived,
    )


def identify(session, rows: list[Row]) -> list[Row]:
    """The rows with the facility_id the registry knows them by: a facility disclosed without
    one keeps the id it has in the registry (the contractor's own, from an earlier file, or
    the derived one) when its supplier, name and address are those of a registered facility."""
    known: dict[str, str] = {}
    for facility in session.scalars(select(Facility).where(Facility.reference.is_not(None))
                                    .order_by(Facility.active.desc(), Facility.id)):
        known.setdefault(identity_key(facility.supplier, facility.name, facility.address), facility.reference)
    identified, first_line, problems = [], {}, []
    for row in rows:
        if row.derived:
            reference = known.get(identity_key(row.supplier, row.facility_name, row.address), row.facility_id)
            row = replace(row, facility_id=reference)
        if row.facility_id in first_line:
            problems.append(Problem(row.line, "duplicate_derived", "facility_id", row.facility_id))
        first_line.setdefault(row.facility_id, row.line)
        identified.append(row)
    if problems:
        raise DisclosureError(problems=problems)
    return identified


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


def columns_named(layout: Layout, named: dict[str, str]) -> list[str | None]:
    """The columns of a file as placed by their names, with ``named`` over them: {a header
    name of the file (compared folded): the column of the disclosure it holds, or "" to ignore
    it}. KeyError for a name the header does not have."""
    folded = {fold(name): column for name, column in named.items()}
    missing = set(folded) - {fold(name) for name in layout.header}
    if missing:
        raise KeyError(sorted(name for name in named if fold(name) in missing)[0])
    columns = [folded.get(fold(name), column) for name, column in zip(layout.header, layout.placed, strict=True)]
    # Two columns named for one value, one of them placed otherwise: the other holds it.
    left = [place(name) if column is None else None for name, column in zip(layout.header, columns, strict=True)]
    return [left[index] if column is None and left[index] not in (None, *columns) and left.count(left[index]) == 1
            else column for index, column in enumerate(columns)]


def preview(session, actor, data: bytes, filename: str = "", columns: list[str | None] | None = None
            ) -> DisclosureImport:
    """Check the file and store it with its changes, not applied yet (DisclosureError if bad).

    A file with a column the importer cannot place (nor ``columns`` place: columns_named) is
    stored awaiting its columns (``awaiting_columns``): the administrator places them
    (choose_columns), then its changes are shown."""
    layout = read_layout(data, filename)
    placed = layout.placed if columns is None else columns
    changes = None
    if layout.problems or None not in placed or not layout.body:
        # A file with lines that cannot be read, or without a line under its header, is refused
        # whole, with every problem, before anyone places its columns.
        changes = diff(session, identify(session, rows_of(layout, placed)))
    utf8 = layout.table.read_as in ("utf-8", "utf-8-sig")
    record = DisclosureImport(
        uploaded_at=clock.now(),
        uploaded_by=getattr(actor, "id", actor),
        applied_at=None,
        digest=hashlib.sha256(data).digest(),
        # As uploaded (a BOM included): encoded again, it is the very file, and matches the digest.
        # Other encodings and workbooks are kept as their bytes.
        content=data.decode("utf-8") if utf8 else "",
        original=None if utf8 else data,
        read_as=layout.table.read_as,
        columns=json.dumps(placed),
        awaiting_columns=changes is None,
        changes=(changes or Changes()).to_json(),
    )
    session.add(record)
    session.commit()
    return record


def layout_of(record: DisclosureImport) -> Layout:
    return read_layout(original_file(record))


def columns_of(record: DisclosureImport) -> list[str | None] | None:
    """The column of the disclosure each header cell of the file holds (None: not placed yet),
    or None for an import made before columns were kept (its header names were exact)."""
    return json.loads(record.columns) if record.columns else None


def choose_columns(session, import_id: int, columns: list[str]) -> DisclosureImport:
    """Place the columns of a file awaiting them ("" ignores a column), and compute its
    changes; DisclosureError with the file's problems if it cannot be imported so."""
    record = session.get(DisclosureImport, import_id)
    if record is None:
        raise DisclosureError("not_found")
    if record.applied_at is not None:
        raise DisclosureError("applied")
    changes = diff(session, identify(session, rows_of(layout_of(record), columns)))
    record.columns = json.dumps(columns)
    record.awaiting_columns = False
    record.changes = changes.to_json()
    session.commit()
    return record


def changes_of(record: DisclosureImport) -> Changes:
    return Changes.from_json(record.changes)


def original_file(record: DisclosureImport) -> bytes:
    return record.original if record.original is not None else record.content.encode("utf-8")


def is_workbook(record: DisclosureImport) -> bool:
    return (record.read_as or "").startswith("xlsx")


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
    if record.awaiting_columns:
        raise DisclosureError("unmapped")
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
        rows = identify(session, rows_of(layout_of(record), columns_of(record)))
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
