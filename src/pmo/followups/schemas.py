"""Follow-up payloads and views."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

from pmo.periods import PlausibleDate
from pmo.text import MultiLine

Channel = Literal["visit", "phone", "online", "email", "meeting"]
DelayCause = Literal["vendor_resources", "budget", "staffing", "mainframe", "specification", "procurement", "other"]
CHANNEL_LABELS = {
    "visit": "訪問",
    "phone": "電話",
    "online": "オンライン会議",
    "email": "メール",
    "meeting": "説明会・会議",
}
CAUSE_LABELS = {
    "vendor_resources": "事業者のリソース不足",
    "budget": "予算確保",
    "staffing": "職員体制",
    "mainframe": "メインフレームからの移行",
    "specification": "標準仕様への対応",
    "procurement": "調達手続",
    "other": "その他",
}


class FollowUpIn(BaseModel):
    """A hearing or advice the prefecture held with one of its municipalities."""

    model_config = ConfigDict(extra="forbid")

    held_on: PlausibleDate
    channel: Channel
    learned: Annotated[
        str, Field(min_length=1, max_length=4000, description="what was learned (聞き取り内容)"), MultiLine
    ]
    agreed_actions: Annotated[str | None, Field(max_length=4000), MultiLine] = None
    next_check_on: PlausibleDate | None = None
    shared_with_national: StrictBool = Field(
        False, description="share this record (with its cause of delay) with the national tier"
    )
    # validate_default: the rule below also runs when the cause is left out, so its error names the field
    delay_cause: DelayCause | None = Field(None, validate_default=True)
    delay_detail: Annotated[str | None, Field(max_length=4000), MultiLine] = None

    # Each rule sits on the field it is about, so a form shows its message beside that field.
    @field_validator("next_check_on")
    @classmethod
    def _after_held(cls, value: date | None, info: ValidationInfo) -> date | None:
        held = info.data.get("held_on")
        if value is not None and held is not None and value < held:
            raise ValueError("next_check_on（次回確認日）は held_on（実施日）以降の日付にしてください。")
        return value

    @field_validator("delay_cause")
    @classmethod
    def _cause_when_shared(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("shared_with_national") and value is None:
            raise ValueError("国と共有する記録には delay_cause（遅延の原因）が必要です。")
        return value


class DoneIn(BaseModel):
    """Marking a follow-up done: the agreed actions were confirmed."""

    model_config = ConfigDict(extra="forbid")

    note: Annotated[str | None, Field(max_length=4000, description="how they were confirmed"), MultiLine] = None


class FollowUpOut(BaseModel):
    id: int
    body: str
    body_name: str
    prefecture: str
    held_on: date
    channel: Channel
    channel_label: str
    learned: str
    agreed_actions: str | None
    next_check_on: date | None
    shared_with_national: bool
    delay_cause: DelayCause | None
    delay_cause_label: str | None
    delay_detail: str | None
    created_at: datetime
    created_by: str
    done_at: datetime | None = None
    done_by: str | None = None
    done_note: str | None = None
