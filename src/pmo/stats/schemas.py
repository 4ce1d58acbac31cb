"""Shapes of the statistics responses (documentation; the bodies are rendered once and cached as bytes)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# Kept for the contract; always null since every published group is a union of atoms of more than k
# bodies (groups.py): no figure needs hiding.
Suppressed = Literal["primary", "secondary"] | None
SystemsBy = Literal[
    "none",
    "reason",
    "target",
    "track",
    "prefecture",
    "kind",
    "prefecture,reason",
    "prefecture,target",
    "prefecture,track",
]
# Where a deferred system's own target month stands against the month the register is read at.
TargetState = Literal["passed", "within_6_months", "later", "no_target"]
# Whether a deferred system will make its own target month: late (passed), at risk (within 6 months and its
# operation under 80 % complete at the body), on track (otherwise), or no target month.
TrackState = Literal["on_track", "at_risk", "late", "no_target"]


class ProgressCell(BaseModel):
    prefecture: str | None = Field(None, description="2-digit prefecture number (an area, not a body)")
    kind: str | None = None
    operation: str | None = None
    step: str | None = None
    phase: str | None = None
    n_bodies: int = Field(description="bodies in the group that report the figure's operations")
    suppressed: Suppressed = Field(description="always null: no published group needs hiding (see k)")
    n_reported: int | None = Field(description="of them, bodies that reported for the period")
    n_systems: int | None = Field(description="body × operation pairs the figures cover")
    done: int | None
    in_progress: int | None
    not_started: int | None
    not_applicable: int | None
    completion_rate: float | None = Field(description="(done + not_applicable) / (n_systems × steps), MIC's 完了率")
    in_progress_rate: float | None
    not_started_rate: float | None


class ProgressTable(BaseModel):
    period: str
    by: list[str]
    filters: dict[str, str | None]
    k: int = Field(description="every group is a union of atoms of more than k bodies")
    as_of: datetime | None = Field(description="newest submission the figures include")
    cells: list[ProgressCell]


class TrendCell(ProgressCell):
    period: str
    fiscal_year: int = Field(description="Japanese fiscal year (April–March) of the period")


class TrendTable(BaseModel):
    from_: str = Field(alias="from")
    to: str
    interval: Literal["month", "fiscal_year"]
    by: list[str]
    filters: dict[str, str | None]
    k: int
    as_of: datetime | None
    cells: list[TrendCell]


class DistributionBin(BaseModel):
    bin: str
    lower: float
    upper: float
    n_bodies: int | None
    suppressed: Suppressed


class Distribution(BaseModel):
    period: str
    operation: str | None
    k: int
    n_bodies: int
    n_reported: int
    mean_completion: float | None
    median_completion: float | None
    as_of: datetime | None
    bins: list[DistributionBin]


class ReportingCell(BaseModel):
    prefecture: str | None = None
    kind: str | None = None
    n_bodies: int
    suppressed: Suppressed
    n_reported: int | None
    on_time: int | None
    late: int | None
    pending: int | None = Field(description="not reported yet while the period is still within its window")
    missing: int | None = Field(description="not reported by the due time")
    reported_rate: float | None
    on_time_rate: float | None


class Reporting(BaseModel):
    period: str
    by: str
    due_at: datetime
    window_open: bool = Field(description="before due_at: bodies yet to report are pending, not missing")
    k: int
    as_of: datetime | None
    cells: list[ReportingCell]


class SystemsCell(BaseModel):
    reason: str | None = None
    target: TargetState | None = Field(
        None, description="where the systems' own target month stands against the month read (by=…target)"
    )
    track: TrackState | None = Field(
        None, description="on track / at risk / late for its own target month, by the body's progress (by=…track)"
    )
    prefecture: str | None = None
    kind: str | None = None
    n_bodies: int = Field(description="bodies in the group")
    suppressed: Suppressed
    deferred_systems: int | None = Field(description="特定移行支援システム in the group")
    bodies_with_deferred: int | None = Field(description="bodies with at least one")


class SystemsTable(BaseModel):
    by: list[str]
    period: str | None = Field(description="the month whose end the register is read at; null: as it stands now")
    k: int
    as_of: datetime | None = Field(description="newest register change the figures include")
    cells: list[SystemsCell]


class InquiryCount(BaseModel):
    suppressed: Suppressed
    n_inquiries: int | None = Field(description="inquiries in the group")
    n_bodies: int | None = Field(description="distinct askers: bodies, and vendor accounts (which have no body)")


class InquiryCell(InquiryCount):
    operation: str | None = None
    tier: str | None = None
    state: str | None = None
    category: str | None = None


class InquiryTable(BaseModel):
    by: Literal["operation", "tier", "state", "category"]
    k: int
    total: InquiryCount
    cells: list[InquiryCell]


class AdvisersCell(BaseModel):
    prefecture: str | None = None
    n_bodies: int = Field(description="bodies in the group")
    suppressed: Suppressed
    requests: int | None = Field(description="adviser requests (not withdrawn)")
    bodies: int | None = Field(description="bodies that requested")
    visits: int | None


class AdvisersTable(BaseModel):
    by: str
    k: int
    cells: list[AdvisersCell]
