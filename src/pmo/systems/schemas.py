"""Systems register payloads and views."""

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from pmo.reports.schemas import Month
from pmo.text import MultiLine, SingleLine

DeferralReason = Literal["mainframe", "individually_built", "no_compliant_product", "vendor_resources"]
REASON_LABELS = {
    "mainframe": "メインフレーム",
    "individually_built": "個別開発システム",
    "no_compliant_product": "標準準拠システムの提供なし",
    "vendor_resources": "事業者のリソースひっ迫",
}


class SystemIn(BaseModel):
    """The whole record of one system; every PUT is a new version."""

    model_config = ConfigDict(extra="forbid")

    vendor: Annotated[str | None, Field(max_length=120, examples=["株式会社サンプル情報システム"]), SingleLine] = None
    planned_go_live: Month | None = None
    deferred: StrictBool = Field(False, description="特定移行支援システム (migration deferred past FY2025)")
    deferral_reason: DeferralReason | None = None
    deferral_target: Month | None = Field(None, description="month the migration is now aimed at")
    note: Annotated[str | None, Field(max_length=1000), MultiLine] = None

    @model_validator(mode="after")
    def _deferral_fields(self) -> Self:
        if self.deferred and (self.deferral_reason is None or self.deferral_target is None):
            raise ValueError(
                "特定移行支援システムには deferral_reason（理由）と deferral_target（移行目標月）が必要です。"
            )
        if not self.deferred and (self.deferral_reason or self.deferral_target):
            raise ValueError("deferral_reason と deferral_target は deferred が true のときだけ指定できます。")
        return self


class SystemOut(BaseModel):
    operation: str
    registered: bool
    vendor: str | None = None
    planned_go_live: str | None = None
    deferred: bool = False
    deferral_reason: DeferralReason | None = None
    deferral_reason_label: str | None = None
    deferral_target: str | None = None
    note: str | None = None
    version: int | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class SystemDetail(SystemOut):
    history: list[SystemOut]
