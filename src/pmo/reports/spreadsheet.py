"""Excel and CSV: the grid as a download with Japanese headers, and uploads parsed back into a report."""

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from urllib.parse import quote

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from pmo import labels
from pmo.access import ensure_owner
from pmo.auth import Principal
from pmo.errors import InvalidInput, PayloadTooLarge, PmoError
from pmo.http.conditional import IfMatch
from pmo.models import Body
from pmo.reports import service as report_rules
from pmo.reports.grid import Catalog, load_catalog
from pmo.reports.schemas import MAX_CELLS, CellIn, ReportIn, SubmitOut
from pmo.tabular import neutralize

_CELL = TypeAdapter(CellIn)

Format = Literal["xlsx", "csv"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
MAX_UNZIPPED_BYTES = 2_000_000  # a full 800-row report with every column and notes unzips to 0.7 MB
MAX_COLUMNS = 40  # the layout has 12; columns further right are not read

STATUS_JA = labels.STATUS_LABELS
STATUS_FROM_TEXT = {**{v: k for k, v in STATUS_JA.items()}, **{k: k for k in STATUS_JA}}


@dataclass(frozen=True)
class Column:
    header: str
    field: str | None  # the CellIn field it feeds; None for read-only context columns
    aliases: tuple[str, ...] = ()


COLUMNS = [
    Column("団体コード", None, ("body",)),
    Column("団体名", None, ("body_name",)),
    Column("業務コード", "operation", ("operation", "業務")),
    Column("業務名", None, ("operation_name",)),
    Column("ステップ", "step", ("step", "ステップコード")),
    Column("ステップ名", None, ("step_name",)),
    Column("フェーズ", None, ("phase",)),
    Column("状況", "status", ("status",)),
    Column("着手予定月", "planned_start", ("planned_start",)),
    Column("完了予定月", "planned_end", ("planned_end",)),
    Column("完了月", "actual_end", ("actual_end",)),
    Column("備考", "note", ("note",)),
]
COLUMN_ORDER = {c.header: i for i, c in enumerate(COLUMNS)}
_BY_NAME = {name: col for col in COLUMNS for name in (col.header, *col.aliases)}


def _rows(catalog: Catalog, grid: dict) -> list[list[str | None]]:
    rows = []
    for cell in grid["cells"]:
        op, step = catalog.op_by_code[cell["operation"]], catalog.step_by_code[cell["step"]]
        rows.append(
            [
                grid["body"],
                grid["body_name"],
                op.code,
                op.name,
                step.code,
                step.name,
                step.phase,
                STATUS_JA[cell["status"]],
                cell["planned_start"],
                cell["planned_end"],
                cell["actual_end"],
                neutralize(cell["note"]),
            ]
        )
    return rows


def export_grid(session: Session, grid: dict, fmt: Format) -> tuple[bytes, str, str]:
    """(content, media type, URL-encoded file name) of the grid in the chosen format."""
    rows = _rows(load_catalog(session), grid)
    name = quote(f"{grid['body']}_{grid['body_name']}_{grid['period']}.{fmt}")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([c.header for c in COLUMNS])
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8-sig"), CSV_TYPE, name
    wb = Workbook()
    ws = wb.worksheets[0]  # a new workbook's one sheet (what wb.active gives, typed as optional)
    ws.title = f"報告 {grid['period']}"
    ws.append([c.header for c in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in rows:
        ws.append(row)
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJKL", (10, 12, 18, 18, 8, 36, 12, 10, 11, 11, 11, 40), strict=True):
        ws.column_dimensions[letter].width = width
    status_list = DataValidation(type="list", formula1='"' + ",".join(STATUS_JA.values()) + '"', allow_blank=True)
    status_list.error = "完了済み・作業中・未着手・対象外 のいずれかを選んでください。"
    ws.add_data_validation(status_list)
    status_list.add(f"H2:H{len(rows) + 1}")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), XLSX_TYPE, name


def _month_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (datetime, date)):
        return f"{value.year:04d}-{value.month:02d}"
    text = str(value).strip()
    m = re.fullmatch(r"(\d{4})\s*(?:[-/.年])\s*(\d{1,2})\s*月?(?:[-/.]\d{1,2}日?)?", text)
    return f"{m.group(1)}-{int(m.group(2)):02d}" if m else text


def _blank(row: Iterable[object]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _numbered(rows: Iterable[Sequence[object]]) -> list[tuple[int, list]]:
    """(file row number, values) of every non-blank row; a file with more rows than a report can hold is
    refused whole (not cut), and reading stops there, so a huge file costs no more than that."""
    table: list[tuple[int, list]] = []
    for number, row in enumerate(rows, start=1):
        if _blank(row):
            continue
        if len(table) > MAX_CELLS:  # the header and MAX_CELLS rows are already in
            raise InvalidInput.at(
                ["file", "row", number],
                f"行数が多すぎます。1つの報告は見出しと {MAX_CELLS} 行までです"
                f"（空行を除いて {number} 行目で超えました）。何も登録していません。",
            )
        table.append((number, list(row)))
    return table


def _read_xlsx(data: bytes) -> list[tuple[int, list]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(i.file_size for i in archive.infolist()) > MAX_UNZIPPED_BYTES:
                raise PayloadTooLarge(
                    f"Excel ファイルの展開後のサイズが {MAX_UNZIPPED_BYTES // 1_000_000} MB を超えます。"
                    "報告の表だけを新しいブックに保存し直してください。"
                )
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            # Only the layout's columns are read: openpyxl pads every row to the sheet's declared width.
            return _numbered(wb.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS))
        finally:
            wb.close()
    except PmoError:
        raise
    except Exception as exc:  # whatever a damaged or hostile workbook makes openpyxl raise is the file's fault
        chain = [exc, exc.__cause__, exc.__context__]
        entity = any(e is not None and ("Entit" in type(e).__name__ or "DTD" in type(e).__name__) for e in chain)
        reason = "XML の実体宣言（DTD）を含むため" if entity else "壊れているか形式が違うため"
        raise InvalidInput.at(
            ["file"],
            f"Excel（.xlsx）ファイルとして読めません（{reason}）。ダウンロードした様式に入力して保存してください。",
        ) from exc


def _read_csv(data: bytes) -> list[tuple[int, list]]:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput.at(["file"], "CSV の文字コードを読めません。UTF-8 か Shift_JIS で保存してください。")
    reader = csv.reader(io.StringIO(text, newline=None), strict=True)  # newline=None: CR, LF and CRLF alike
    try:
        return _numbered(row[:MAX_COLUMNS] for row in reader)
    except csv.Error as exc:
        raise InvalidInput.at(
            ["file", "row", reader.line_num],
            f"CSV の {reader.line_num} 行目を読めません（{_CSV_REASONS.get(str(exc).split(' (')[0], str(exc))}）。",
        ) from exc


_CSV_REASONS = {
    "unexpected end of data": '閉じていない引用符（"）があります',
    "field larger than field limit": f"1つの欄が長すぎます（{csv.field_size_limit():,} 文字まで）",
    "',' expected after '\"'": '引用符（"）の後に区切りのカンマがありません',
}


def _read_table(data: bytes, filename: str) -> tuple[list[tuple[int, list]], str]:
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        return _read_xlsx(data), "xlsx"
    return _read_csv(data), "csv"


def parse_upload(session: Session, body: Body, upload: UploadFile, period: int) -> tuple[ReportIn, str, list[int]]:
    """The report a file describes, its source ('xlsx'/'csv') and each cell's file row; 422 listing every
    problem of the file in one pass — unreadable values and the report's own rules (unknown or not
    applicable codes, duplicates, misplaced months) — at the row and column the clerk's spreadsheet shows."""
    data = upload.file.read()
    if not data:
        raise InvalidInput.at(["file"], "ファイルが空です。")
    table, source = _read_table(data, upload.filename or "")
    if not table:
        raise InvalidInput.at(["file"], "ファイルに行がありません。")
    header_row, header_values = table[0]
    header = [str(h).strip() if h is not None else "" for h in header_values]
    columns = {i: _BY_NAME[h] for i, h in enumerate(header) if h in _BY_NAME}
    present = {c.field for c in columns.values() if c.field}
    missing = [c.header for c in COLUMNS if c.field in ("operation", "step", "status") and c.field not in present]
    if missing:
        raise InvalidInput.at(["file", "row", header_row], f"見出し行に {'・'.join(missing)} の列がありません。")
    catalog = load_catalog(session)
    op_names = {key: o.code for o in catalog.operations for key in (o.code, o.name, o.short_name)}
    step_names = {key: s.code for s in catalog.steps for key in (s.code, str(s.order), f"{s.order:02d}")}
    errors, cells, row_numbers = [], [], []
    for number, row in table[1:]:
        values = {}
        for i, col in columns.items():
            raw = row[i] if i < len(row) else None
            values[col.header] = raw.strip() if isinstance(raw, str) else raw
        status_text = values.get("状況")
        if status_text in (None, ""):
            errors.append(
                {
                    "loc": ["file", "row", number, "状況"],
                    "msg": "状況が空です。完了済み・作業中・未着手・対象外 のいずれかを入れてください"
                    "（報告しない行は行ごと削除してください）。",
                }
            )
            continue
        code = values.get("団体コード")
        if code not in (None, "") and str(code).zfill(6) != body.code:
            errors.append(
                {
                    "loc": ["file", "row", number, "団体コード"],
                    "msg": f"団体コード {code} はこの団体（{body.code}）のものではありません。",
                }
            )
            continue
        fields: dict[str | None, str | None] = {
            "operation": op_names.get(str(values.get("業務コード") or ""), str(values.get("業務コード") or "")),
            "step": step_names.get(str(values.get("ステップ") or ""), str(values.get("ステップ") or "")),
            "status": STATUS_FROM_TEXT.get(str(status_text), str(status_text)),
        }
        for month_header in ("着手予定月", "完了予定月", "完了月"):
            if month_header in values:
                fields[_BY_NAME[month_header].field] = _month_text(values[month_header])
        if "備考" in values:
            note = values["備考"]
            fields["note"] = None if note in (None, "") else str(note).removeprefix("'")
        try:
            cells.append(_CELL.validate_python(fields))
            row_numbers.append(number)
        except ValidationError as exc:
            for err in exc.errors():
                field = err["loc"][0] if err["loc"] else None
                column_header = next((c.header for c in COLUMNS if c.field == field), str(field))
                msg = (
                    "完了済み・作業中・未着手・対象外 のいずれかです。"
                    if field == "status"
                    else (
                        "YYYY-MM 形式の月で指定してください。"
                        if field in ("planned_start", "planned_end", "actual_end")
                        else err["msg"]
                    )
                )
                errors.append(
                    {"loc": ["file", "row", number, column_header], "msg": msg, "input": str(err.get("input"))[:100]}
                )
    if errors:  # the cells that did parse are checked against the report's rules too: every problem at once
        errors += _relocated(report_rules.cell_problems(catalog, body, period, cells), row_numbers)
        errors.sort(key=_file_order)
        raise InvalidInput(f"ファイルに {len(errors)} 件の誤りがあります。何も登録していません。", detail=errors)
    return ReportIn(cells=cells), source, row_numbers


def relocate_errors(error: InvalidInput, row_numbers: list[int]) -> InvalidInput:
    """Translate a report error's cells[i].field locations into file row and column."""
    return InvalidInput(
        error.message.replace("報告に", "ファイルに"), detail=_relocated(error.detail or [], row_numbers)
    )


def _file_order(error: dict) -> tuple[int, int]:
    """Row, then column as the layout orders them (a row-level error first)."""
    loc = error["loc"]
    return loc[2], COLUMN_ORDER.get(str(loc[3]), 99) if len(loc) > 3 else -1


_DUPLICATE = re.compile(r"が (\d+) 番目のセルと重複")


def _relocated(detail: list[dict], row_numbers: list[int]) -> list[dict]:
    """body.cells[i].field → file row and column; a duplicate names the file row of the first occurrence."""
    headers = {c.field: c.header for c in COLUMNS if c.field}
    out = []
    for item in detail:
        loc = item.get("loc", [])
        if len(loc) >= 3 and loc[:2] == ["body", "cells"] and isinstance(loc[2], int):
            column = headers.get(loc[3]) if len(loc) > 3 else None
            msg = _DUPLICATE.sub(
                lambda m: f"が {row_numbers[int(m.group(1)) - 1]} 行目と重複", str(item.get("msg", ""))
            )
            item = {**item, "loc": ["file", "row", row_numbers[loc[2]], *([column] if column else [])], "msg": msg}
        out.append(item)
    return out


def submit_upload(
    session: Session,
    principal: Principal,
    body: Body,
    period_text: str,
    upload: UploadFile,
    *,
    idempotency_key: str | None = None,
    if_match: IfMatch | None = None,
) -> SubmitOut:
    """Apply an Excel/CSV file as the period's report; errors point at the file's rows and columns."""
    ensure_owner(principal, body)
    period = report_rules.parse_period(period_text)
    report, source, row_numbers = parse_upload(session, body, upload, period)
    try:
        return report_rules.submit_report(
            session,
            principal,
            body,
            period_text,
            report,
            source=source,
            idempotency_key=idempotency_key,
            if_match=if_match,
        )
    except InvalidInput as exc:
        raise relocate_errors(exc, row_numbers) from None
