"""Prefecture review endpoints: municipalities table, lagging list, missing reports."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from pmo.deps import BodyCode, BodyDep, CurrentUser, ReadSessionDep
from pmo.openapi import declare
from pmo.review import service
from pmo.review.schemas import LaggingList, MissingReports, OwnMissing, ReviewTable
from pmo.tabular import MEDIA_TYPES, file_response

router = APIRouter(tags=["prefecture review"], responses=declare(403))  # every route checks the scope
Period = Annotated[str | None, Query(description="YYYY-MM; default the previous month")]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, or a csv/xlsx download")]
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}}


@router.get("/prefectures/{code}/bodies", response_model=ReviewTable, responses=FILE_RESPONSES)
def review_bodies(
    code: BodyCode,
    session: ReadSessionDep,
    principal: CurrentUser,
    period: Period = None,
    sort: Annotated[service.Sort, Query()] = "code",
    kind: Annotated[Literal["designated_city", "city", "special_ward", "town", "village"] | None, Query()] = None,
    status: Annotated[Literal["on_time", "late", "missing", "pending"] | None, Query()] = None,
    below: Annotated[float | None, Query(ge=0, le=1, description="only completion rates below this")] = None,
    format: Format = "json",
) -> ReviewTable | Response:
    """Every municipality of the prefecture: rates, change since last month, report status, deferred systems."""
    prefecture = service.prefecture_for(session, principal, code)
    table = service.filter_and_sort(
        service.review_rows(session, prefecture, service.parse_review_period(period)),
        sort=sort,
        kind=kind,
        status=status,
        below=below,
    )
    if format != "json":
        return file_response(service.review_export(session, prefecture, table), format)
    return table


@router.get("/prefectures/{code}/lagging", response_model=LaggingList)
def lagging(
    code: BodyCode,
    session: ReadSessionDep,
    principal: CurrentUser,
    period: Period = None,
    everyone: Annotated[bool, Query(alias="all", description="every municipality with its score")] = False,
) -> LaggingList:
    """Municipalities ranked by how far behind they are, each with its reasons and their weight: by default
    the few to call first (the top PMO_LAG_SHARE), with all=true everyone."""
    prefecture = service.prefecture_for(session, principal, code)
    return service.lagging(session, prefecture, service.parse_review_period(period), everyone)


@router.get("/prefectures/{code}/missing-reports", response_model=MissingReports, responses=FILE_RESPONSES)
def missing_reports(
    code: BodyCode, session: ReadSessionDep, principal: CurrentUser, period: Period = None, format: Format = "json"
) -> MissingReports | Response:
    """Municipalities that have not reported for the period: the reminder list (also as csv/xlsx)."""
    prefecture = service.prefecture_for(session, principal, code)
    listing = service.missing_reports(session, prefecture, service.parse_review_period(period))
    if format != "json":
        return file_response(service.missing_export(prefecture, listing), format)
    return listing


@router.get("/bodies/{code}/missing-reports", response_model=OwnMissing)
def own_missing_reports(body: BodyDep, session: ReadSessionDep, principal: CurrentUser) -> OwnMissing:
    """The body's own overdue, missing periods (the body and its prefecture)."""
    return service.own_missing(session, principal, body)
