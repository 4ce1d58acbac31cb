"""Systems register payloads and views."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

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
    # validate_default: the rule below also runs on a field left out, so its error names that field
    deferral_reason: DeferralReason | None = Field(None, validate_default=True)
    deferral_target: Month | None = Field(
        None, description="month the migration is now aimed at", validate_default=True
    )
    note: Annotated[str | None, Field(max_length=1000), MultiLine] = None

    @field_validator("deferral_reason", "deferral_target")
    @classmethod
    def _deferral_fields(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "deferred" not in info.data:  # deferred itself is invalid and reported
            return value
        label = "理由" if info.field_name == "deferral_reason" else "移行目標月"
        if info.data["deferred"] and value is None:
            raise ValueError(f"特定移行支援システムには {info.field_name}（{label}）が必要です。")
        if not info.data["deferred"] and value is not None:
            raise ValueError(f"{info.field_name}（{label}）は deferred が true のときだけ指定できます。")
        return value


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
