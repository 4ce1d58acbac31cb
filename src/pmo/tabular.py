"""Tables as downloadable files (CSV for any tool, Excel for people), safe to open in a spreadsheet."""

import csv
import io
import re
from collections.abc import Sequence
from typing import Literal, NamedTuple
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from starlette.responses import Response

FileFormat = Literal["csv", "xlsx"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# What a spreadsheet skips before it decides a cell is a formula, and what then starts one (Excel reads
# the full-width forms as their ASCII twins).
_LEADING = " \u3000\ufeff\t\r\n"
_TRIGGERS = "=+-@＝＋－＠"
# Characters an .xlsx cannot hold (openpyxl refuses them): shown as U+FFFD rather than breaking the file.
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralize(value: object) -> object:
    """Text safe to open in a spreadsheet: a leading apostrophe where it would run as a formula, control
    characters a workbook cannot hold replaced by U+FFFD; other values pass."""
    if not isinstance(value, str) or not value:
        return value
    value = _UNWRITABLE.sub("\ufffd", value)
    stripped = value.lstrip(_LEADING)
    if value[0] in "\t\r" or (stripped and stripped[0] in _TRIGGERS):
        return "'" + value
    return value


def table_file(headers: Sequence[str], rows: Sequence[Sequence[object]], fmt: FileFormat, title: str) -> bytes:
    """headers and rows as a CSV (UTF-8 with BOM, for Excel) or an .xlsx with a bold, frozen header."""
    rows = [[neutralize(v) for v in row] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8-sig")
    wb = Workbook()
    ws = wb.worksheets[0]  # a new workbook's one sheet (what wb.active gives, typed as optional)
    ws.title = title[:31]
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in rows:
        ws.append(list(row))
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


class Sheet(NamedTuple):
    """A table to download: its headers, rows and file name (without the extension)."""

    headers: list[str]
    rows: list[list]
    name: str


def file_response(sheet: Sheet, fmt: FileFormat) -> Response:
    """The sheet as a download named name.csv / name.xlsx (never kept by a shared cache)."""
    return Response(
        table_file(sheet.headers, sheet.rows, fmt, sheet.name),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(sheet.name)}.{fmt}",
            "Cache-Control": "private, no-store",
        },
    )
