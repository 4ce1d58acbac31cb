"""Report payloads and views."""

from datetime import datetime
from typing import Annotated, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from pmo.periods import PERIOD_PATTERN
from pmo.text import MultiLine, SingleLine

Status = Literal["done", "in_progress", "not_started", "not_applicable"]
Month = Annotated[str, Field(pattern=PERIOD_PATTERN, description="YYYY-MM", examples=["2025-04"])]
MAX_CELLS = 2000


class CellIn(TypedDict):
    """One cell of a submission; an omitted optional field keeps its last value, null clears it."""

    # A dict, not a model: which optional fields were sent is which keys are present, and a full grid
    # (800 cells) validates in half the time.
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]  # pydantic's TypedDict config key

    operation: Annotated[str, Field(max_length=40, examples=["jumin_kiroku"]), SingleLine]
    step: Annotated[str, Field(max_length=10, examples=["S07"]), SingleLine]
    status: Status
    planned_start: NotRequired[Month | None]
    planned_end: NotRequired[Month | None]
    actual_end: NotRequired[Month | None]
    note: NotRequired[Annotated[str | None, Field(max_length=1000), MultiLine]]


class ReportIn(BaseModel):
    """A monthly report: any subset of cells; none at all means "no change this month"."""

    model_config = ConfigDict(extra="forbid")

    cells: Annotated[list[CellIn], Field(max_length=MAX_CELLS)] = []


class ReportWarning(BaseModel):
    code: str
    operation: str
    step: str | None = None
    msg: str


class SubmitOut(BaseModel):
    body: str
    period: str
    revision: int = Field(description="1 for the period's first submission, 2 for its first correction, …")
    revision_id: int
    submitted_at: datetime
    submitted_by: str
    late: bool = Field(description="this submission came after the period's due time")
    due_at: datetime
    changed: int = Field(description="cells whose value this submission changed")
    unchanged: int = Field(description="cells sent with the value they already had")
    warnings: list[ReportWarning]
    etag: str = Field("", description="the report's ETag now: send it as If-Match with the next submission")


class CellOut(BaseModel):
    operation: str
    step: str
    status: Status
    planned_start: str | None = None
    planned_end: str | None = None
    actual_end: str | None = None
    note: str | None = None
    updated_period: str | None = Field(None, description="period of the report that last set this cell")


class GridOut(BaseModel):
    body: str
    body_name: str
    period: str
    reported: bool = Field(description="the body submitted a report for this period")
    revision: int | None = Field(None, description="latest revision for this period")
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    late: bool | None = Field(None, description="the period's first report came after its due time")
    due_at: datetime
    etag: str
    cells: list[CellOut]


class RevisionSummary(BaseModel):
    revision: int
    revision_id: int
    submitted_at: datetime
    submitted_by: str
    late: bool
    changed: int
    source: str


class PeriodReports(BaseModel):
    period: str
    late: bool
    revisions: list[RevisionSummary]


class CellChange(BaseModel):
    operation: str
    step: str
    before: CellOut
    after: CellOut


class RevisionDetail(RevisionSummary):
    changes: list[CellChange]


class OperationProgress(BaseModel):
    operation: str
    done: int
    in_progress: int
    not_started: int
    not_applicable: int
    completion_rate: float = Field(description="(done + not_applicable) / 40, as MIC defines 完了率")
    in_progress_rate: float = Field(description="in_progress / 40 (作業中率)")
    not_started_rate: float = Field(description="not_started / 40 (未着手率)")
    completed_through: str | None = Field(description="last step of the leading run of done/not-applicable steps")
    out_of_order: int = Field(description="steps done while an earlier step is not started")


class ProgressOut(BaseModel):
    body: str
    period: str
    reported: bool
    completion_rate: float = Field(description="mean of the operations' completion rates")
    in_progress_rate: float
    not_started_rate: float
    operations: list[OperationProgress]
