"""Report endpoints: submit, read as of a period, history, progress, Excel/CSV."""

from typing import Annotated

import orjson
from fastapi import APIRouter, File, Header, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from pmo.auth import Principal, sign_in
from pmo.db import session_scope
from pmo.deps import (
    BodyCode,
    BodyDep,
    CurrentUser,
    PeriodPath,
    ReadSessionDep,
    RequiredToken,
    SessionDep,
    client_address,
)
from pmo.directory import service as directory
from pmo.http import conditional
from pmo.http.body import JsonBody
from pmo.http.conditional import IfMatch, IfMatchDep
from pmo.openapi import declare
from pmo.reports import service, spreadsheet
from pmo.reports.schemas import GridOut, PeriodReports, ProgressOut, ReportIn, RevisionDetail, SubmitOut

router = APIRouter(tags=["reports"], responses=declare(403))  # every route checks the body's scope

IdempotencyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retries with the same key apply once and get the same answer"),
]


REPORT_BODY = JsonBody(ReportIn)


@router.put(
    "/bodies/{code}/reports/{period}",
    response_model=SubmitOut,
    responses=declare(400, 413),
    openapi_extra=REPORT_BODY.openapi(),
)
async def submit_report(
    code: BodyCode,
    period: PeriodPath,
    request: Request,
    token: RequiredToken,
    if_match: IfMatchDep,
    idempotency_key: IdempotencyHeader = None,
) -> Response:
    """Submit the body's report for a period: any subset of cells; an empty report means "no change"."""
    raw = await request.body()
    # A full grid is 800 cells: parsed and validated in one pass, then signing in, the service and the commit
    # in one worker-thread call (each hand-off between the loop and a thread costs as much as a tenth of it).
    principal, out = await run_in_threadpool(
        _submit, raw, token, client_address(request), code, period, if_match, idempotency_key
    )
    request.state.principal = principal
    return Response(out.model_dump_json(), media_type="application/json", headers={"ETag": out.etag})


def _submit(
    raw: bytes,
    token: str,
    client: str | None,
    code: str,
    period: str,
    if_match: IfMatch | None,
    idempotency_key: str | None,
) -> tuple[Principal, SubmitOut]:
    with session_scope() as session:
        principal = sign_in(session, token, client)
        report = REPORT_BODY.parse(raw)
        body = directory.get_body(session, code)
        out = service.submit_report(
            session, principal, body, period, report, idempotency_key=idempotency_key, if_match=if_match
        )
    return principal, out


@router.get("/bodies/{code}/reports/{period}", response_model=GridOut, responses={304: {"description": "Not modified"}})
def get_report(
    period: PeriodPath,
    body: BodyDep,
    session: ReadSessionDep,
    principal: CurrentUser,
    if_none_match: conditional.IfNoneMatchHeader = None,
) -> Response:
    """The body's whole grid as of a period, with the period's revision, submitter and late flag."""
    grid = service.get_grid(session, principal, body, period)
    return conditional.versioned(if_none_match, orjson.dumps(grid), grid["etag"])


@router.get("/bodies/{code}/reports", response_model=list[PeriodReports])
def list_reports(body: BodyDep, session: ReadSessionDep, principal: CurrentUser) -> list[PeriodReports]:
    """Every period the body reported, newest first, with its revisions."""
    return service.list_reports(session, principal, body)


@router.get("/bodies/{code}/reports/{period}/revisions", response_model=list[RevisionDetail])
def list_revisions(
    period: PeriodPath, body: BodyDep, session: ReadSessionDep, principal: CurrentUser
) -> list[RevisionDetail]:
    """Who changed which cell of the period from what to what, and when."""
    return service.list_revisions(session, principal, body, period)


@router.get("/bodies/{code}/progress", response_model=ProgressOut)
def get_progress(
    body: BodyDep,
    session: ReadSessionDep,
    principal: CurrentUser,
    period: Annotated[str | None, Query(description="YYYY-MM; default the current month")] = None,
) -> ProgressOut:
    """MIC's rates per operation and overall, and up to which step each operation is complete."""
    return service.get_progress(session, principal, body, period)


@router.get(
    "/bodies/{code}/reports/{period}/download",
    response_class=Response,
    responses={200: {"content": {spreadsheet.XLSX_TYPE: {}, spreadsheet.CSV_TYPE: {}}}},
)
def download_report(
    period: PeriodPath,
    body: BodyDep,
    session: ReadSessionDep,
    principal: CurrentUser,
    format: Annotated[spreadsheet.Format, Query(description="xlsx or csv")] = "xlsx",
) -> Response:
    """The grid as of a period as an Excel or CSV file with Japanese headers."""
    grid = service.get_grid(session, principal, body, period)
    content, media_type, filename = spreadsheet.export_grid(session, grid, format)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}", "ETag": grid["etag"]},
    )


@router.post("/bodies/{code}/reports/{period}/upload", response_model=SubmitOut)
def upload_report(
    code: BodyCode,
    period: PeriodPath,
    session: SessionDep,
    principal: CurrentUser,
    response: Response,
    file: Annotated[UploadFile, File(description=".xlsx or .csv in the download's layout")],
    if_match: IfMatchDep,
    idempotency_key: IdempotencyHeader = None,
) -> SubmitOut:
    """Apply an Excel or CSV file as the period's report: all rows or none, errors by row and column."""
    body = directory.get_body(session, code)
    out = spreadsheet.submit_upload(
        session, principal, body, period, file, idempotency_key=idempotency_key, if_match=if_match
    )
    response.headers["ETag"] = out.etag
    return out
