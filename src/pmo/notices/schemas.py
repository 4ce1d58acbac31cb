"""Notice payloads and views."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from pmo.directory.codes import PREFECTURE_NUMBER_PATTERN
from pmo.text import MultiLine, SingleLine

NoticeCategory = Literal[
    "basic_policy", "specification", "administrative_notice", "schedule", "funding", "event", "other"
]
Audience = Literal["all", "prefectures", "municipalities", "prefecture_municipalities", "vendors"]
CATEGORY_LABELS = {
    "basic_policy": "基本方針",
    "specification": "標準仕様書",
    "administrative_notice": "事務連絡",
    "schedule": "スケジュール",
    "funding": "補助金",
    "event": "説明会・研修",
    "other": "その他",
}
AUDIENCE_LABELS = {
    "all": "全団体",
    "prefectures": "都道府県",
    "municipalities": "市区町村",
    "prefecture_municipalities": "特定の都道府県の市区町村",
    "vendors": "事業者",
}


class NoticeIn(BaseModel):
    """A notice to an audience: all bodies, the prefectures, the municipalities, or one prefecture's municipalities."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200), SingleLine]
    body: Annotated[str, Field(min_length=1, max_length=20000), MultiLine]
    category: NoticeCategory
    audience: Audience
    prefecture: Annotated[
        str | None,
        Field(
            pattern=PREFECTURE_NUMBER_PATTERN,
            description="2-digit prefecture number (prefecture_municipalities only)",
            validate_default=True,  # the audience rule also runs when it is left out, naming this field
        ),
    ] = None
    operation: Annotated[str | None, Field(max_length=40), SingleLine] = None
    faq_id: Annotated[int | None, Field(ge=1, le=2_147_483_647, description="a published FAQ entry to link")] = None
    inquiry_id: Annotated[int | None, Field(ge=1, le=2_147_483_647, description="an inquiry to link")] = None
    publisher: Annotated[
        str | None,
        Field(max_length=40, description="publishing organisation (a ministry's own, for ministry accounts)"),
        SingleLine,
    ] = None

    @field_validator("prefecture")
    @classmethod
    def _prefecture_with_audience(cls, value: str | None, info: ValidationInfo) -> str | None:
        audience = info.data.get("audience")  # absent when audience itself is invalid (and reported)
        if audience == "prefecture_municipalities" and value is None:
            raise ValueError(
                "audience が prefecture_municipalities のときは prefecture（都道府県番号 01〜47）を指定してください。"
            )
        if audience not in (None, "prefecture_municipalities") and value is not None:
            raise ValueError("prefecture は audience が prefecture_municipalities のときだけ指定できます。")
        return value


class NoticeOut(BaseModel):
    id: int
    title: str
    body: str
    category: NoticeCategory
    category_label: str
    audience: Audience
    audience_label: str
    prefecture: str | None
    operation: str | None
    faq_id: int | None
    inquiry_id: int | None
    published_at: datetime
    published_by: str
    publisher: str = Field(description="publishing organisation (デジタル庁, 総務省 …)")
    read_at: datetime | None = Field(None, description="when the caller's body marked it read (bodies only)")
    n_recipients: int | None = Field(None, description="bodies in the audience (senders only)")
    n_read: int | None = Field(None, description="of them, bodies that have read it (senders only)")


class ReadOut(BaseModel):
    notice_id: int
    body: str
    read_at: datetime


class Reader(BaseModel):
    body: str
    name: str
    kind: str
    prefecture_code: str
    read_at: datetime | None
    read_by: str | None


class Readers(BaseModel):
    notice_id: int
    n_recipients: int
    n_read: int
    n_unread: int
    bodies: list[Reader]
