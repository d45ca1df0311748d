"""A contractor's disclosure file read as a table of text cells, whatever it was saved as.

The contract asks for "a completed document", not a format: contractors send
what their spreadsheet saves. Read here: CSV in UTF-8 (with or without a byte
order mark), in UTF-16 with a byte order mark (Excel's "Unicode text") or in
Windows-1252 (which covers Latin-1), separated by commas, semicolons or tabs, with
any line ends; and Excel workbooks (XLSX). What the file holds is judged by services/registry.py; this module only
turns bytes into rows with their line (CSV) or row (XLSX) numbers, and refuses
files it cannot read safely: a workbook is a ZIP archive, so its unpacked size,
its number of parts and its rows are bounded before and while it is read.
"""

import codecs
import csv
import io
import itertools
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000  # facilities in one file; a contractor's whole supply chain fits many times
MAX_COLUMNS = 50
# Blank rows read past before a workbook is judged hostile (a sheet "used" down to row 1,048,576).
MAX_SCANNED_ROWS = 5 * MAX_ROWS
MAX_UNPACKED = 25 * 1024 * 1024
MAX_PARTS = 1000
DELIMITERS = (",", ";", "\t")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary Excel format (XLS)
# Bytes of a well-formed UTF-8 multi-byte character: in a file that is not UTF-8 as a whole,
# they mean UTF-8 with damaged lines, not a legacy encoding.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ZEROS = re.compile(r"0+")
# Lines end in CRLF (Windows), LF, or CR alone (Excel for the Mac's "CSV" saves).
_LINE_END = re.compile(r"\r\n|\r|\n")
# Where the header of a CSV file is looked for, to tell its separator.
HEAD_LINES = 40
HEAD_CHARACTERS = 64 * 1024


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a disclosure file. ``line`` counts from 1 (a CSV line, or a
    workbook's row); it is None for the file as a whole."""

    line: int | None
    code: str
    column: str | None = None
    value: str | None = None


class DisclosureError(Exception):
    """A file that cannot be imported (``problems``), or an import that cannot be
    applied: ``reason`` is "problems", "not_found", "applied", "stale" or "unmapped"."""

    def __init__(self, reason: str = "problems", problems: list[Problem] | None = None):
        super().__init__(reason if not problems else f"{len(problems)} problems")
        self.reason = reason
        self.problems = problems or []


@dataclass(frozen=True)
class Table:
    """The rows of a file: (line or row number, cells), blank rows left out.
    ``read_as`` says how: "utf-8", "utf-8-sig", "utf-16", "windows-1252" or "xlsx:<sheet name>"."""

    rows: list[tuple[int, list[str]]]
    read_as: str


def clean(value: str) -> str:
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(part.strip() for part in value.strip().split("\n"))


def is_workbook(data: bytes, filename: str = "") -> bool:
    return data.startswith((ZIP_MAGIC, OLE_MAGIC)) or filename.lower().endswith((".xlsx", ".xlsm", ".xls"))


def read_table(data: bytes, filename: str = "", has_header=None) -> Table:
    """The table of a CSV file or a workbook, or DisclosureError with what makes it unreadable
    (PartlyRead: a CSV file with bad lines, the rest of it read). Of a workbook's sheets, the
    first one ``has_header`` accepts is read, or else the first; of a CSV file's separators,
    the first with which ``has_header`` accepts its first rows."""
    if len(data) > MAX_BYTES:
        raise DisclosureError(problems=[Problem(None, "too_long", None, str(len(data)))])
    if not data.strip():
        raise DisclosureError(problems=[Problem(1, "no_rows")])
    if is_workbook(data, filename):
        return _read_workbook(data, has_header or (lambda rows: True))
    return _read_csv(data, has_header)


# -- CSV ---------------------------------------------------------------------------------------------------


def _read_csv(data: bytes, has_header) -> Table:
    problems: list[Problem] = []
    text, read_as = _decode(data, problems)
    if problems and not text:
        raise DisclosureError(problems=problems)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, has_header), strict=True)
    rows: list[tuple[int, list[str]]] = []
    previous_end = 0
    try:
        for cells in reader:
            line, previous_end = previous_end + 1, reader.line_num
            cells = [clean(cell) for cell in cells]
            if not any(cells):
                continue
            if len(rows) > MAX_ROWS:
                raise DisclosureError(problems=[Problem(line, "too_many_rows", None, str(MAX_ROWS))])
            if len(cells) > MAX_COLUMNS and any(cells[MAX_COLUMNS:]):
                raise DisclosureError(problems=[Problem(line, "too_many_columns", None, str(MAX_COLUMNS))])
            rows.append((line, cells))
    except csv.Error:
        problems.append(Problem(reader.line_num or 1, "bad_csv"))
    if problems:
        raise PartlyRead(rows, read_as, sorted(problems, key=lambda p: p.line or 0))
    return Table(rows, read_as)


class PartlyRead(DisclosureError):
    """A CSV file with lines that could not be read: the lines that could are still checked,
    so that every problem of the file is reported at once."""

    def __init__(self, rows, read_as, problems):
        super().__init__(problems=problems)
        self.table = Table(rows, read_as)


def _decode(data: bytes, problems: list[Problem]) -> tuple[str, str]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" (tab-separated). Its byte order mark says which UTF-16.
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            problems.append(Problem(1, "bad_encoding", None, "UTF-16"))
            return "", ""
        return _without_controls(text, problems), "utf-16"
    head = data[:8192]
    if b"\x00" in head or len(_CONTROL.findall(head.decode("latin-1"))) > len(head) // 20:
        problems.append(Problem(None, "not_text"))
        return "", ""
    bom = data.startswith(codecs.BOM_UTF8)
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        text, read_as = body.decode("utf-8"), "utf-8-sig" if bom else "utf-8"
    except UnicodeDecodeError:
        text, read_as = None, ""
    if text is None and not bom and not _UTF8_SEQUENCE.search(body):
        try:
            text, read_as = body.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            text = None
    if text is None:
        # UTF-8 with damaged lines: each one is reported. 0x0A is never part of a multi-byte
        # UTF-8 sequence, so lines can be checked one by one.
        for number, line in enumerate(body.split(b"\n"), start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                problems.append(Problem(number, "bad_encoding", None, _hex(line[error.start:error.end])))
        text, read_as = body.decode("utf-8", errors="replace"), "utf-8"
    return _without_controls(text, problems), read_as


def _without_controls(text: str, problems: list[Problem]) -> str:
    for number, line in enumerate(_LINE_END.split(text), start=1):
        control = _CONTROL.search(line)
        if control:
            problems.append(Problem(number, "bad_encoding", None, _hex(control.group().encode())))
    return _CONTROL.sub("\ufffd", text)


def _hex(raw: bytes) -> str:
    return "".join(f"\\x{byte:02x}" for byte in raw[:4])


def _delimiter(text: str, has_header) -> str:
    """The separator of the file's cells: the one Excel's "sep=" line names; else the first with
    which ``has_header`` finds the header in the first lines (title lines above it may hold any
    separator); else the one that cuts one of the first lines into the most cells (spreadsheets
    in many locales save semicolons or tabs)."""
    head = text[:HEAD_CHARACTERS]
    hint = re.fullmatch(r'"?sep=(.)"?', _LINE_END.split(head, 1)[0].strip())
    if hint and hint.group(1) in DELIMITERS:
        return hint.group(1)
    widest: dict[str, int] = {}
    for delimiter in DELIMITERS:
        rows = []
        try:
            for cells in itertools.islice(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter), HEAD_LINES):
                rows.append((len(rows) + 1, [clean(cell) for cell in cells]))
        except csv.Error:
            pass  # the head may end inside a quoted cell
        if has_header and has_header([(number, cells) for number, cells in rows if any(cells)]):
            return delimiter
        widest[delimiter] = max((sum(1 for cell in cells if cell) for _number, cells in rows), default=0)
    return max(DELIMITERS, key=lambda delimiter: widest[delimiter])


# -- XLSX --------------------------------------------------------------------------------------------------


def _read_workbook(data: bytes, has_header) -> Table:
    if data.startswith(OLE_MAGIC):
        raise DisclosureError(problems=[Problem(None, "old_workbook")])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise DisclosureError(problems=[Problem(None, "bad_workbook")]) from None
    # The sizes a ZIP declares bound what zipfile unpacks (it stops there, and fails the CRC check).
    if len(parts) > MAX_PARTS or sum(part.file_size for part in parts) > MAX_UNPACKED:
        raise DisclosureError(problems=[Problem(None, "workbook_too_big")])
    if "xl/workbook.xml" not in {part.filename for part in parts}:
        raise DisclosureError(problems=[Problem(None, "bad_workbook")])
    import openpyxl  # only when a workbook is uploaded

    try:
        # Twice: the cells as written (to tell formulas), and the values Excel computed and kept.
        book, computed = (openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=values_only,
                                                 keep_links=False) for values_only in (False, True))
    except Exception:  # noqa: BLE001 - whatever a hostile archive makes the parser raise, it is not a workbook
        raise DisclosureError(problems=[Problem(None, "bad_workbook")]) from None
    try:
        sheets = [(sheet, computed.worksheets[index]) for index, sheet in enumerate(book.worksheets)
                  if hasattr(sheet, "iter_rows")]
        if not sheets:
            raise DisclosureError(problems=[Problem(None, "bad_workbook")])
        # A sheet that cannot be read (formulas never computed, say) is passed over when a later
        # one has the header: it is not the disclosure.
        read: list[Table | DisclosureError] = []
        for sheet, values in sheets:
            try:
                table = _read_sheet(sheet, values)
            except DisclosureError as error:
                read.append(error)
                continue
            if has_header(table.rows):
                return table
            read.append(table)
        if isinstance(read[0], DisclosureError):
            raise read[0]
        return read[0]
    except DisclosureError:
        raise
    except Exception:  # noqa: BLE001 - a malformed sheet inside a well-formed archive
        raise DisclosureError(problems=[Problem(None, "bad_workbook")]) from None
    finally:
        book.close()
        computed.close()


def _read_sheet(sheet, computed) -> Table:
    """The rows of ``sheet``; a formula's cell holds the value Excel computed (``computed`` is the
    same sheet with those values). Formulas are never evaluated here."""
    rows: list[tuple[int, list[str]]] = []
    problems: list[Problem] = []
    any_computed = False
    # The dimensions a sheet declares are the writer's claim: too small, rows past them would be
    # silently dropped; the rows are read as they are.
    sheet.reset_dimensions()
    computed.reset_dimensions()
    both = zip(sheet.iter_rows(max_col=MAX_COLUMNS + 1), computed.iter_rows(max_col=MAX_COLUMNS + 1), strict=False)
    for number, (cells, computed_cells) in enumerate(both, start=1):
        if number > MAX_SCANNED_ROWS:
            raise DisclosureError(problems=[Problem(number, "too_many_rows", None, str(MAX_ROWS))])
        values, formulas = [], []
        for index, cell in enumerate(cells):
            value, formula = _cell_text(cell)
            if formula:
                result = computed_cells[index] if index < len(computed_cells) else None
                formulas.append(value[:40])
                value = _cell_text(result)[0] if result is not None else ""
                any_computed = any_computed or bool(value)
            values.append(value)
        while values and not values[-1]:
            values.pop()
        if not values:
            continue  # blank, or formulas whose result is empty (a template's rows not filled in)
        problems.extend(Problem(number, "formula", None, formula) for formula in formulas)
        if len(values) > MAX_COLUMNS:
            raise DisclosureError(problems=[Problem(number, "too_many_columns", None, str(MAX_COLUMNS))])
        if len(rows) >= MAX_ROWS + 1:
            raise DisclosureError(problems=[Problem(number, "too_many_rows", None, str(MAX_ROWS))])
        rows.append((number, values))
    if problems and not any_computed:
        # A workbook Excel never computed (written by a program) keeps no values of its formulas,
        # and they are never evaluated here: the person who made it pastes their values.
        raise DisclosureError(problems=problems[:100])
    return Table(rows, "xlsx:" + sheet.title)


def _cell_text(cell) -> tuple[str, bool]:
    """The cell's text, and whether it is a formula."""
    value = getattr(cell, "value", None)
    if value is None:
        return "", False
    if getattr(cell, "data_type", None) == "f" or type(value).__name__ in ("ArrayFormula", "DataTableFormula"):
        return str(getattr(value, "text", value)), True
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        # A postal code or an id kept as a number shows its leading zeros by a format such as "00000".
        digits = getattr(cell, "number_format", "") or ""
        return (str(value).zfill(len(digits)) if _ZEROS.fullmatch(digits) else str(value)), False
    if isinstance(value, datetime):
        return (value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")), False
    if isinstance(value, date | time):
        return value.isoformat(), False
    return clean(_CONTROL.sub("", str(value))), False
