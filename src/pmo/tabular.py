"""Tables as downloadable files (CSV for any tool, Excel for people), safe to open in a spreadsheet."""

import csv
import io
from collections.abc import Sequence
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

FileFormat = Literal["csv", "xlsx"]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def neutralize(value):
    """Text a spreadsheet would run as a formula gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def table_file(headers: Sequence[str], rows: Sequence[Sequence], fmt: FileFormat, title: str) -> bytes:
    """headers and rows as a CSV (UTF-8 with BOM, for Excel) or an .xlsx with a bold, frozen header."""
    rows = [[neutralize(v) for v in row] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8-sig")
    wb = Workbook()
    ws = wb.active
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
