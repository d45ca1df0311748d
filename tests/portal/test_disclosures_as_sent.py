"""The contractor discloses its facilities "by way of a completed document", saved as its
spreadsheet saves it: headers in English, French or Dutch, CSV in UTF-8 or Windows-1252,
or an Excel workbook; often without facility ids. The administrator imports it as it is,
places a column the portal does not know, and exports the registry with its change log
for the contracting authority and Electronics Watch."""

import codecs
import csv
import html
import io
import random
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from disclosure_pages import apply, column_choices, place_columns, problems_shown, upload
from inbox_pages import log_in
from operator_steps import logged_in_admin, run_portal
from sqlalchemy import func, select

from portal.models import AuditEntry, DisclosureImport, Facility

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "facility-disclosure-example.csv"

ENGLISH = [
    ["Supplier name", "Registered office", "Facility name", "Facility address", "Country", "Products"],
    ["Northlight Components Ltd", "3 Harbour Square, Cambridge CB1 2AB, United Kingdom",
     "Penang Precision Electronics Sdn Bhd", "Plot 12, Bayan Lepas Free Industrial Zone, 11900 Penang, Malaysia",
     "MY", "tablet mainboards, laptop mainboards"],
    ["Northlight Components Ltd", "3 Harbour Square, Cambridge CB1 2AB, United Kingdom",
     "Kulim Power Supplies Sdn Bhd", "Lot 8, Kulim Hi-Tech Park, 09000 Kulim, Kedah, Malaysia", "my",
     "laptop power adapters"],
    ["Brightway Holdings Ltd", "Unit 5, 88 Queen's Road, Central, Hong Kong",
     "Shenzhen Brightway Technology Co., Ltd", "18 Gaoxin South Road, Nanshan, Shenzhen, China", "China",
     "keyboard housings"],
]
FRENCH = [
    ["Nom du fournisseur", "Siège social", "Site de production", "Adresse", "Pays", "Produits"],
    ["Société Électronique du Nord", "12 rue de l'Église, 59000 Lille, France", "Usine de Bắc Ninh",
     "Lô C4, KCN Quế Võ, Bắc Ninh", "VN", "écrans, façades"],
    ["Société Électronique du Nord", "12 rue de l'Église, 59000 Lille, France", "Atelier Hải Phòng",
     "Đình Vũ, Hải Phòng", "Viêt Nam", "câbles"],
]
DUTCH = [
    ["Naam leverancier", "Maatschappelijke zetel", "Productielocatie", "Adres", "Land", "Producten"],
    ["Noorderlicht Elektronica NV", "Kerkstraat 1, 9000 Gent, België", "Fabriek Penang",
     "Jalan Perusahaan 3, Penang", "Maleisië", "moederborden"],
]


def csv_bytes(rows, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def workbook_bytes(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def declaring(workbook: bytes, dimension: bytes) -> bytes:
    """The workbook with its sheets declaring ``dimension`` (the range of cells they say they use)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for part in source.infolist():
            data = source.read(part.filename)
            if part.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="' + dimension + b'"/>', data)
            copy.writestr(part.filename, data)
    return out.getvalue()


def registry_of(app) -> dict[str, Facility]:
    with app.extensions["portal.sessions"]() as session:
        facilities = session.scalars(select(Facility).where(Facility.reference.is_not(None))).all()
        session.expunge_all()
        return {f.name: f for f in facilities}


def imports_stored(app) -> int:
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(DisclosureImport))


def import_whole(admin, data, name="disclosure.csv"):
    """Upload, check the preview, apply; the preview's text."""
    checked = upload(admin, data, name)
    assert checked.status_code == 303, problems_shown(checked)
    location = checked.headers["Location"]
    preview = admin.get(location).get_data(as_text=True)
    assert apply(admin, location).status_code == 303
    return preview


def test_an_english_csv_with_the_contracts_own_column_names_imports(app):
    admin = logged_in_admin(app)
    data = csv_bytes(ENGLISH, delimiter=";").replace(b";", b"; ")  # "Supplier name; Registered office; ..."
    preview = import_whole(admin, data)
    assert "Read as UTF-8." in preview and "Added facilities (3)" in preview
    facilities = registry_of(app)
    assert set(facilities) == {row[2] for row in ENGLISH[1:]}
    penang = facilities["Penang Precision Electronics Sdn Bhd"]
    assert penang.supplier == "Northlight Components Ltd" and penang.country == "MY"
    assert penang.supplier_office.startswith("3 Harbour Square") and penang.products.startswith("tablet")
    # Without ids in the file, each facility has a stable one made from supplier, name and address.
    assert re.fullmatch(r"auto-[0-9a-f]{12}", penang.reference)
    assert facilities["Kulim Power Supplies Sdn Bhd"].country == "MY", "a lower-case code"
    assert facilities["Shenzhen Brightway Technology Co., Ltd"].country == "CN", "a country's name"


def test_a_french_file_in_windows_1252_is_read_and_says_so(app):
    admin = logged_in_admin(app)
    # Windows-1252 has no Vietnamese letters: a French spreadsheet would not have them either.
    rows = [[cell.replace("ắ", "a").replace("ế", "e").replace("ả", "a").replace("ò", "o").replace("Đ", "D")
             .replace("ì", "i").replace("Hả", "Ha").replace("ũ", "u").replace("ĩ", "i").replace("Quế Võ", "Que Vo")
             .replace("Lô", "Lo") for cell in row] for row in FRENCH]
    data = csv_bytes(rows, delimiter=";", encoding="cp1252")
    assert b"Soci\xe9t\xe9" in data
    preview = import_whole(admin, data)
    assert "Read as Windows-1252 (Latin-1)" in preview
    assert "Société Électronique du Nord" in preview and "12 rue de l'Église" in html.unescape(preview)
    facilities = registry_of(app)
    assert {f.country for f in facilities.values()} == {"VN"}
    assert facilities["Usine de Bac Ninh"].products == "écrans, façades"


def test_a_dutch_file_with_a_byte_order_mark_imports(app):
    admin = logged_in_admin(app)
    data = codecs.BOM_UTF8 + csv_bytes(DUTCH)
    preview = import_whole(admin, data)
    assert "Read as UTF-8 (with a byte order mark)." in preview
    fabriek = registry_of(app)["Fabriek Penang"]
    assert (fabriek.supplier, fabriek.supplier_office, fabriek.country, fabriek.products) == (
        "Noorderlicht Elektronica NV", "Kerkstraat 1, 9000 Gent, België", "MY", "moederborden")


def test_a_workbook_is_read_from_the_sheet_with_the_header_and_its_file_kept(app):
    admin = logged_in_admin(app)
    data = workbook_bytes({
        "Instructions": [["Fill in one row per production facility."], ["Contact: compliance@example.com"]],
        "Disclosure": [["Supplier disclosure, Q3"], [], ENGLISH[0] + ["Facility ID"]]
        + [row + [f"NL-{n}"] for n, row in enumerate(ENGLISH[1:])] + [[None, None, "", None]],
    })
    checked = upload(admin, data, "Disclosure Q3.xlsx")
    assert checked.status_code == 303, problems_shown(checked)
    location = checked.headers["Location"]
    preview = html.unescape(admin.get(location).get_data(as_text=True))
    assert 'Read as an Excel workbook (XLSX), sheet "Disclosure".' in preview
    assert "Added facilities (3)" in preview
    # The file as uploaded, byte for byte.
    import_id = location.rsplit("/", 1)[1]
    kept = admin.get(f"/admin/facilities/imports/{import_id}.xlsx")
    assert kept.status_code == 200 and kept.data == data
    assert admin.get(f"/admin/facilities/imports/{import_id}.csv").status_code == 404
    assert apply(admin, location).status_code == 303
    assert {f.reference for f in registry_of(app).values()} == {"NL-0", "NL-1", "NL-2"}

    # A sheet that declares fewer rows than it has is read whole, not cut where it says.
    understated = declaring(workbook_bytes({"Q3": [ENGLISH[0]] + [r[:5] + ["new " + r[5]] for r in ENGLISH[1:]]}),
                            b"A1:B2")
    preview = import_whole(admin, understated, "q3.xlsx")
    assert "Changed facilities (3)" in preview

    # A bad row is reported with its row number in the sheet, and nothing is imported.
    bad = workbook_bytes({"Disclosure": [["Supplier disclosure, Q4"], ENGLISH[0],
                                         ENGLISH[1], ENGLISH[2][:5] + [""]]})
    refused = upload(admin, bad, "q4.xlsx")
    assert refused.status_code == 400
    assert problems_shown(refused) == ["Line 4: the column products is empty."]


def test_an_unknown_column_is_placed_by_the_administrator_on_the_preview_then_applied(app):
    admin = logged_in_admin(app)
    rows = [ENGLISH[0][:5] + ["Main output", "Workers"]] + [row[:5] + [row[5], "1200"] for row in ENGLISH[1:]]
    checked = upload(admin, csv_bytes(rows))
    assert checked.status_code == 303
    location = checked.headers["Location"]
    page = admin.get(location).get_data(as_text=True)
    assert "Some columns of this file have names the portal does not know" in page
    assert column_choices(page) == {"Supplier name": "supplier", "Registered office": "supplier_registered_office",
                                    "Facility name": "facility_name", "Facility address": "address",
                                    "Country": "country", "Main output": "", "Workers": ""}
    assert "tablet mainboards, laptop mainboards" in page, "the first values help to choose"

    # Nothing can be applied before every column is placed.
    assert apply(admin, location).status_code == 409
    not_chosen = place_columns(admin, location, {})
    assert not_chosen.status_code == 400 and "Choose what each column of the file holds" in not_chosen.get_data(
        as_text=True)
    # The products left unplaced: a clear message; two columns as the country: another.
    missing = place_columns(admin, location, {"Main output": "ignore", "Workers": "ignore"})
    assert missing.status_code == 400 and problems_shown(missing) == ["Line 1: the column products is missing."]
    twice = place_columns(admin, location, {"Main output": "products", "Workers": "country"})
    assert twice.status_code == 400 and problems_shown(twice) == ["Line 1: the column country is there twice."]
    assert registry_of(app) == {}

    # Placed by its name or by the administrator, a column can be placed again until the file is applied.
    wrong = place_columns(admin, location, {"Main output": "products", "Workers": "facility_local_name"})
    assert wrong.status_code == 303 and "1200" in admin.get(location).get_data(as_text=True)
    again = admin.get(location + "/columns")
    assert again.status_code == 200 and column_choices(again.get_data(as_text=True))["Workers"] == (
        "facility_local_name")
    placed = place_columns(admin, location, {"Main output": "products", "Workers": "ignore"})
    assert placed.status_code == 303 and placed.headers["Location"] == location
    preview = admin.get(location).get_data(as_text=True)
    assert "Added facilities (3)" in preview and "1200" not in preview
    assert apply(admin, location).status_code == 303
    facilities = registry_of(app)
    assert facilities["Kulim Power Supplies Sdn Bhd"].products == "laptop power adapters"


def test_a_file_without_ids_imported_again_with_one_product_changed_changes_one_facility(app):
    admin = logged_in_admin(app)
    import_whole(admin, csv_bytes(ENGLISH))
    before = registry_of(app)

    # Saved again by another spreadsheet: columns reordered, other case and spacing, a changed product.
    rows = [[row[i] for i in (2, 0, 1, 3, 4, 5)] for row in ENGLISH]
    rows[0] = ["FACILITY  NAME", "supplier", "Registered Office", "facility address", "COUNTRY", "products"]
    rows[2][5] = "laptop power adapters, phone chargers"
    preview = import_whole(admin, csv_bytes(rows, delimiter="\t"))
    assert "Added facilities (0)" in preview and "Removed facilities (0)" in preview
    assert "Changed facilities (1)" in preview and "Unchanged facilities: 2." in preview
    after = registry_of(app)
    kulim = after["Kulim Power Supplies Sdn Bhd"]
    assert (kulim.id, kulim.reference) == (before[kulim.name].id, before[kulim.name].reference)
    assert kulim.products == "laptop power adapters, phone chargers"


def test_a_facility_disclosed_with_the_contractors_id_keeps_it_in_a_file_without_ids(app):
    admin = logged_in_admin(app)
    import_whole(admin, EXAMPLE.read_bytes())
    lines = list(csv.reader(io.StringIO(EXAMPLE.read_text(encoding="utf-8"))))
    rows = [line[1:] for line in lines]  # the same file without its facility_id column
    rows[1][-1] = "tablet mainboards"
    preview = import_whole(admin, csv_bytes(rows))
    assert "Changed facilities (1)" in preview and "Unchanged facilities: 5." in preview
    assert "Added facilities (0)" in preview and "Removed facilities (0)" in preview
    references = {f.reference for f in registry_of(app).values()}
    assert references == {line[0] for line in lines[1:]}


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (40 * 1024 * 1024))
    return out.getvalue()


def hostile_files():
    header = ",".join(ENGLISH[0]) + "\n"
    with_formula = workbook_bytes({"Sheet1": [ENGLISH[0], ENGLISH[1][:5] + ["=UPPER(A2)"]]})
    far_down = _far_down()
    many_rows = _many_rows(100_000)
    return {
        "a workbook that is not a ZIP": (b"Supplier,Facility\nthis is text\n", "list.xlsx",
                                         "This file cannot be read as an Excel workbook (XLSX)."),
        "a ZIP that is not a workbook": (_zip({"readme.txt": "hello"}), "list.xlsx",
                                         "This file cannot be read as an Excel workbook (XLSX)."),
        "a broken workbook": (_zip({"xl/workbook.xml": "<not xml", "[Content_Types].xml": "<"}), "list.xlsx",
                              "This file cannot be read as an Excel workbook (XLSX)."),
        "a ZIP bomb": (zip_bomb(), "list.xlsx", "This workbook unpacks to more than 25 MB"),
        "100,000 rows": ((header + "".join(f"S,O,F{n},A{n},MY,p\n" for n in range(100_000))).encode(),
                         "list.csv", "the file has more than 10000 rows"),
        "an XML entity bomb": (_entity_bomb(), "list.xlsx", "This file cannot be read as an Excel workbook (XLSX)."),
        "60 columns": (workbook_bytes({"Sheet1": [ENGLISH[0] + [f"extra {n}" for n in range(54)]]}), "list.xlsx",
                       "Row 1: the file has more than 50 columns."),
        "a file too big": (b"Supplier," + b"x" * (5 * 1024 * 1024), "list.csv", "The file is larger than 5 MB."),
        "a formula": (with_formula, "list.xlsx", "Row 2: a cell holds a formula (=UPPER(A2))."),
        "a workbook with a cell a million rows down": (far_down, "list.xlsx", "the file has more than 10000 rows"),
        "a workbook of 100,000 rows": (many_rows, "list.xlsx", "the file has more than 10000 rows"),
        "an empty file": (b"", "list.csv", "The file lists no facilities."),
        "blank lines only": (b"\r\n\r\n  \n", "list.csv", "The file lists no facilities."),
        "binary garbage": (random.Random(19).randbytes(20_000), "list.csv",
                           "This file is neither a CSV text file nor an Excel workbook (XLSX)."),
        "an old XLS workbook": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "list.xls",
                                "This workbook is in the old Excel format (XLS)."),
        "damaged UTF-16": (codecs.BOM_UTF16_LE + header.encode("utf-16-le")[:-1], "list.csv",
                           "The file is saved as UTF-16."),
    }


def _far_down() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in ENGLISH[:2]:
        sheet.append(row)
    sheet.cell(row=1_000_000, column=1, value="Northlight Components Ltd")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _many_rows(count: int) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    sheet.append(ENGLISH[0])
    for n in range(count):
        sheet.append([n])  # small, so that it is the rows that are too many, not the bytes
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _entity_bomb() -> bytes:
    """A workbook whose sheet expands one cell to a billion "lol"s."""
    entities = '<!ENTITY lol "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
    sheet = (f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]><worksheet '
             'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
             '<c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook_bytes({"Sheet1": [["x"]]}))) as source, \
            zipfile.ZipFile(out, "w") as copy:
        for part in source.infolist():
            copy.writestr(part.filename, sheet if part.filename == "xl/worksheets/sheet1.xml"
                          else source.read(part.filename))
    return out.getvalue()


def _zip(parts: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def test_hostile_files_are_refused_with_a_clear_message_and_nothing_written(app):
    admin = logged_in_admin(app)
    for case, (data, name, message) in hostile_files().items():
        refused = upload(admin, data, name)
        assert refused.status_code == 400, case
        shown = problems_shown(refused)
        assert shown and message in shown[0], (case, shown)
        assert "Nothing was imported" in refused.get_data(as_text=True), case
        assert registry_of(app) == {} and imports_stored(app) == 0, case


def test_the_registry_and_its_change_log_are_exported_as_the_completed_document(app, investigators):
    admin = logged_in_admin(app)
    import_whole(admin, EXAMPLE.read_bytes())
    lines = list(csv.reader(io.StringIO(EXAMPLE.read_text(encoding="utf-8"))))
    revised = [line for line in lines if line[0] != "NL-MY-002"]
    revised[1][-1] = "=HYPERLINK(\"http://evil.example\")"  # a contractor's cell that would run as a formula
    import_whole(admin, csv_bytes(revised))
    page = admin.get("/admin/facilities").get_data(as_text=True)
    assert 'href="/admin/facilities/registry.csv"' in page and 'href="/admin/facilities/registry.xlsx"' in page

    exported = admin.get("/admin/facilities/registry.csv")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    assert exported.headers["Content-Disposition"].endswith('.csv"')
    text = exported.data.decode("utf-8-sig")
    facilities_part, log_part = text.split("\r\n\r\nchange_log\r\n")
    facilities = list(csv.DictReader(io.StringIO(facilities_part)))
    assert {row["facility_id"] for row in facilities} == {line[0] for line in lines[1:]}
    status = {row["facility_id"]: row["status"] for row in facilities}
    assert status["NL-MY-002"] == "removed" and status["NL-MY-001"] == "active"
    assert {row["facility_id"]: row["products"] for row in facilities}["NL-MY-001"].startswith("'=HYPERLINK")
    log = list(csv.DictReader(io.StringIO(log_part)))
    assert [row["change"] for row in log].count("added") == 6
    second = [row for row in log if row["import"] == log[-1]["import"]]
    assert sorted((row["change"], row["facility_id"], row["column"]) for row in second) == [
        ("changed", "NL-MY-001", "products"), ("removed", "NL-MY-002", "")]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["day"]) and row["imported_by"] for row in log)

    workbook = admin.get("/admin/facilities/registry.xlsx")
    assert workbook.status_code == 200 and workbook.headers["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(workbook.data), read_only=True)
    sheet_rows = {sheet.title: [list(r) for r in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}
    header, *rows = sheet_rows["Facilities"]
    assert {row[0] for row in rows} == {line[0] for line in lines[1:]}
    products = {row[0]: row[header.index("products")] for row in rows}
    assert products["NL-MY-001"] == revised[1][-1], "kept as text, not turned into a formula"
    log_header, *log_rows = sheet_rows["Change log"]
    assert len(log_rows) == len(log) and log_header[:3] == ["import", "day", "imported_by"]

    with app.extensions["portal.sessions"]() as session:
        exports = session.scalars(select(AuditEntry).where(AuditEntry.action == "registry_export")).all()
        assert len(exports) == 2

    anna = app.test_client()
    assert log_in(anna, "anna").status_code == 303
    assert anna.get("/admin/facilities/registry.csv").status_code == 404
    assert anna.get("/admin/facilities/registry.xlsx").status_code == 404


# -- files as contractors' staff save them ----------------------------------------------------------------

# Four facilities of one supplier: (facility name, address, country code, products).
SITES = [
    ("Usine de Bac Ninh", "Lot C4, KCN Que Vo, Bac Ninh", "VN", "écrans, façades"),
    ("Shenzhen Brightway Technology", "18 Gaoxin South Road, Shenzhen", "CN", "câbles; prises"),
    ("Kulim Power Supplies", "Lot 8, Kulim Hi-Tech Park, Kedah", "MY", "adaptateurs"),
    ("Brno Boards s.r.o.", "Technická 12, 616 00 Brno", "CZ", "cartes mères"),
]
SUPPLIER, OFFICE = "Société Électronique du Nord", "12 rue de l'Église, 59000 Lille, France"


def sites_with(countries, header, title_rows=()):
    """The sites as rows under ``header``, their countries spelled as ``countries``."""
    return [*title_rows, header] + [[SUPPLIER, OFFICE, name, address, country, products]
                                    for (name, address, _code, products), country in zip(SITES, countries)]


def text_bytes(rows, delimiter, encoding, line_end="\r\n", trailing=""):
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator=trailing + line_end).writerows(rows)
    return out.getvalue().encode(encoding)


def styled_workbook(first_sheet_rows, rows, merge=None, number_format=None) -> bytes:
    book = openpyxl.Workbook()
    book.active.title = "Instructions"
    for row in first_sheet_rows:
        book.active.append(row)
    sheet = book.create_sheet("Facilities")
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    for cell, fmt in (number_format or {}).items():
        sheet[cell].number_format = fmt
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def contractor_files():
    """{how it was saved: (file, its name, how the preview says it was read, facilities_ids shown or None)}"""
    french = ["Fournisseur", "Siège\nsocial", "Nom de l'usine", "Adresse du site", "Pays", "Produits"]
    dutch = ["Leverancier", "Maatschappelijke zetel", "Naam vestiging", "Vestigingsadres", "Land", "Producten"]
    english = ["Supplier name", "Registered office", "Facility name", "Facility address", "Country", "Products"]
    messy = [" SUPPLIER  NAME: ", "registered Office", "Nom de l’usine", "ADRESSE DU SITE", "Pays :",
             "Products (comma separated)"]
    bilingual = ["Leverancier / Fournisseur", "Maatschappelijke zetel / Siège social",
                 "Naam vestiging / Nom du site", "Adres / Adresse", "Land / Pays", "Producten / Produits"]
    title = [["Annexe 3 – Déclaration des sites de production, T3 2024", "", "", "", "", ""], [""] * 6]
    # Sites without a postal code in a column of their own: the city is in a second "Address" column.
    two_row_header = [["Annex 3 – Facility disclosure"], [], ["Supplier", None, "Production facility"],
                      ["Facility ID", "Name", "Registered office", "Name", "Address", "Address", "Country",
                       "Products", None]]
    split = [[1001 + n, SUPPLIER, OFFICE, name, address.rsplit(", ", 1)[0], address.rsplit(", ", 1)[1], code,
              products, None] for n, (name, address, code, products) in enumerate(SITES)]
    windows = "Read as Windows-1252 (Latin-1)"
    return {
        "Excel CSV (semicolon), French Windows, a title above": (
            text_bytes(sites_with(["Viet Nam", "Chine", "Malaisie", "Tchéquie"], french, title), ";", "cp1252",
                       trailing=";"), "declaration.csv", windows, None),
        "Excel CSV (semicolon), Belgian Dutch Windows": (
            text_bytes(sites_with(["Vietnam", "China", "Maleisië", "Tsjechië"], dutch), ";", "cp1252",
                       trailing=";"), "verklaring.csv", windows, None),
        "Excel Unicode text (UTF-16, tabs)": (
            codecs.BOM_UTF16_LE + text_bytes(sites_with(["Vietnam", "China", "Malaysia", "Czech Republic"],
                                                        english), "\t", "utf-16-le"),
            "disclosure.txt", "Read as UTF-16", None),
        "Excel for Mac CSV (CR line ends), headers typed by hand": (
            text_bytes(sites_with(["vn", "CN", "My", "Czechia"], messy), ",", "utf-8", line_end="\r"),
            "disclosure.csv", "Read as UTF-8.", None),
        "tab-separated, three-letter codes, bilingual headers": (
            text_bytes(sites_with(["VNM", "CHN", "MYS", "CZE"], bilingual), "\t", "utf-8"), "sites.tsv",
            "Read as UTF-8.", None),
        "CSV with Excel's sep= line and a comma in the title": (
            b"sep=;\r\n" + text_bytes(sites_with(["VN - Vietnam", "China (PRC)", "Malaysia", "CZ"], english,
                                                 [["Facility disclosure, Q3 2024"]]), ";", "utf-8"),
            "disclosure.csv", "Read as UTF-8.", None),
        "workbook: instructions first, a merged title, a header over two rows, numbers as numbers": (
            styled_workbook([["How to fill in this form"], ["One row per production facility."]],
                            two_row_header + split + [[None] * 9, [None, "", None]], merge="A1:H1"),
            "Annex 3.xlsx", 'sheet "Facilities"', ["1001", "1002", "1003", "1004"]),
    }


def facilities_previewed(page: str) -> set[tuple]:
    """(facility_id, facility name, supplier, address, country, products) of the preview's added facilities."""
    rows = re.findall(r'<tr class="added">\s*<td><code>(.*?)</code>.*?</td>\s*<td>(.*?)</td>\s*'
                      r'<td>(.*?)<br>.*?</td>\s*<td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>', page, re.S)
    return {tuple(html.unescape(cell) for cell in row) for row in rows}


@pytest.mark.parametrize("saved_as", list(contractor_files()))
def test_a_contractors_file_is_read_as_its_spreadsheet_saved_it(app, saved_as):
    data, name, reading, ids = contractor_files()[saved_as]
    admin = logged_in_admin(app)
    checked = upload(admin, data, name)
    assert checked.status_code == 303, problems_shown(checked)
    preview = admin.get(checked.headers["Location"]).get_data(as_text=True)
    assert reading in html.unescape(preview)
    shown = facilities_previewed(preview)
    assert {row[1:] for row in shown} == {(site, SUPPLIER, address, code, products)
                                          for site, address, code, products in SITES}
    assert {row[0] for row in shown} == set(ids) if ids else all(row[0].startswith("auto-") for row in shown)


def test_a_facility_on_a_line_per_product_is_one_facility_and_the_file_sorted_otherwise_changes_nothing(app):
    admin = logged_in_admin(app)
    rows = sites_with([code for _n, _a, code, _p in SITES], ENGLISH[0])
    rows.append([SUPPLIER, OFFICE, SITES[0][0], SITES[0][1], "Vietnam", "tablet covers"])  # its second product
    rows.append(rows[2])  # a line copied twice
    preview = import_whole(admin, csv_bytes(rows))
    assert "Added facilities (4)" in preview
    assert registry_of(app)["Usine de Bac Ninh"].products == "écrans, façades, tablet covers"
    before = {f.name: (f.id, f.reference) for f in registry_of(app).values()}

    again = import_whole(admin, csv_bytes([rows[0], *reversed(rows[1:])], delimiter=";"))
    assert "Added facilities (0)" in again and "Removed facilities (0)" in again
    assert "Changed facilities (0)" in again and "Unchanged facilities: 4." in again
    assert {f.name: (f.id, f.reference) for f in registry_of(app).values()} == before

    # The same facility with another address on a second line is a mistake to correct, not a guess.
    rows.append([SUPPLIER, OFFICE, SITES[1][0], SITES[1][1], "Malaysia", "câbles; prises"])
    refused = upload(admin, csv_bytes(rows))
    assert problems_shown(refused) == [
        "Line 8: this facility (the same supplier, name and address) is on an earlier line already."]


def computed(workbook: bytes, values: dict[str, str]) -> bytes:
    """The workbook as Excel saves it: with the value it computed for each formula ({cell: value})."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for part in source.infolist():
            data = source.read(part.filename)
            if part.filename.startswith("xl/worksheets/"):
                for cell, value in values.items():
                    data = re.sub(rb'(<c r="' + cell.encode() + rb'")([^>]*>)(<f>.*?</f>)<v>\s*</v>',
                                  rb'\1 t="str"\2\3<v>' + value.encode() + b"</v>", data)
            copy.writestr(part.filename, data)
    return out.getvalue()


def test_a_workbook_saved_by_excel_is_read_with_the_values_of_its_formulas(app):
    admin = logged_in_admin(app)
    header = ["N°", "Site code", *ENGLISH[0]]
    rows = [["=ROW()-1", 7 + n, *row] for n, row in enumerate(ENGLISH[1:])]
    rows[2][7] = '=LOWER("KEYBOARD HOUSINGS")'
    # The template's rows not filled in: formulas whose result is empty.
    template = [[f'=IF(C{n}="","",ROW()-1)'] for n in range(5, 9)]
    book = openpyxl.Workbook()
    for row in [header, *rows, *template]:
        book.active.append(row)
    book.active["B2"].number_format = "0000"
    out = io.BytesIO()
    book.save(out)
    data = computed(out.getvalue(), {"A2": "1", "A3": "2", "A4": "3", "H4": "keyboard housings"})
    checked = upload(admin, data, "disclosure.xlsx")
    assert checked.status_code == 303, problems_shown(checked)
    location = checked.headers["Location"]
    assert place_columns(admin, location, {"N°": "ignore", "Site code": "facility_id"}).status_code == 303
    shown = facilities_previewed(admin.get(location).get_data(as_text=True))
    assert {(row[0], row[5]) for row in shown} == {("0007", "tablet mainboards, laptop mainboards"),
                                                    ("8", "laptop power adapters"), ("9", "keyboard housings")}


def test_two_columns_named_for_one_value_are_placed_by_the_administrator_or_on_the_command_line(app, tmp_path):
    header = ["Vendor", "Supplier name", *ENGLISH[0][1:], "Remarks"]
    rows = [header] + [[f"V-{n}", *row, ""] for n, row in enumerate(ENGLISH[1:])]
    rows[1][-1] = "audited 2024"
    data = workbook_bytes({"Suppliers": rows})
    admin = logged_in_admin(app)
    checked = upload(admin, data, "disclosure.xlsx")
    assert checked.status_code == 303
    choices = column_choices(admin.get(checked.headers["Location"]).get_data(as_text=True))
    assert (choices["Vendor"], choices["Supplier name"], choices["Remarks"]) == ("", "", "")

    # On the command line (without --column, "Line 1: the column supplier is there twice."):
    path = tmp_path / "disclosure.xlsx"
    path.write_bytes(data)
    imported = run_portal(app, "facilities", "import", str(path), "--column", "vendor=ignore",
                          "--column", "Remarks=ignore", "--yes")
    assert imported.returncode == 0, imported.stderr
    assert "3 added" in imported.stdout
    assert registry_of(app)["Kulim Power Supplies Sdn Bhd"].supplier == "Northlight Components Ltd"
