"""FAQ payloads and views."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pmo.inquiries.schemas import Category
from pmo.text import MultiLine, SingleLine

FaqStatus = Literal["draft", "published"]
Title = Annotated[str, Field(min_length=1, max_length=200), SingleLine]
LongText = Annotated[str, Field(min_length=1, max_length=20000), MultiLine]


class FaqCreate(BaseModel):
    """A new entry; with from_inquiry the omitted fields are drafted from that inquiry (identities removed)."""

    model_config = ConfigDict(extra="forbid")

    from_inquiry: Annotated[int | None, Field(ge=1, le=2_147_483_647, description="id of an answered inquiry")] = None
    title: Title | None = None
    question: LongText | None = None
    answer: LongText | None = None
    category: Category | None = None
    operation: Annotated[str | None, Field(max_length=40), SingleLine] = None
    step: Annotated[str | None, Field(max_length=3), SingleLine] = None
    status: FaqStatus = "draft"
    publisher: Annotated[
        str | None, Field(max_length=40, description="publishing organisation (default デジタル庁)"), SingleLine
    ] = None


class FaqUpdate(BaseModel):
    """The whole entry as it should be; status published makes it visible to every body."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    question: LongText
    answer: LongText
    category: Category | None = None
    operation: Annotated[str | None, Field(max_length=40), SingleLine] = None
    step: Annotated[str | None, Field(max_length=3), SingleLine] = None
    status: FaqStatus
    publisher: Annotated[
        str | None, Field(max_length=40, description="publishing organisation (default デジタル庁)"), SingleLine
    ] = None


RemovedKind = Literal["body_name", "body_code", "person", "email", "phone"]


class Removed(BaseModel):
    kind: RemovedKind
    text: str = Field(description="what was removed")
    count: int


class FaqOut(BaseModel):
    id: int
    title: str
    question: str
    answer: str
    category: Category | None
    category_label: str | None
    operation: str | None
    step: str | None
    status: FaqStatus
    publisher: str = Field(description="publishing organisation (デジタル庁, 総務省 …)")
    source_inquiry: int | None = Field(None, description="the inquiry it was drafted from (helpdesk and admin only)")
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    score: float | None = Field(None, description="relevance to q (BM25 over character bigrams)")


class DraftedFaq(FaqOut):
    removed: list[Removed] = Field(description="identities removed from the inquiry's text: check before publishing")
