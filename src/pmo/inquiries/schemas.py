"""Inquiry payloads and views."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from pmo.text import MultiLine, SingleLine

State = Literal["open", "awaiting_asker", "answered", "closed"]
Tier = Literal["prefecture", "helpdesk", "ministry"]
Party = Literal["asker", "prefecture", "helpdesk", "ministry"]
Action = Literal["answer", "ask_back", "reply", "escalate", "route", "close", "reopen", "comment", "assign"]
EventAction = Literal["file", "answer", "ask_back", "reply", "escalate", "route", "close", "reopen", "assign"]
MessageKind = Literal["comment", "answer", "ask_back", "reply", "reopen"]
Visibility = Literal["public", "prefecture", "helpdesk", "ministry"]  # public, or internal to that tier
Category = Literal[
    "specification",
    "fit_gap",
    "government_cloud",
    "data_migration",
    "schedule",
    "deferred_system",
    "funding",
    "procurement",
    "other",
]
CATEGORY_LABELS = {
    "specification": "標準仕様書",
    "fit_gap": "Fit&Gap・業務の見直し",
    "government_cloud": "ガバメントクラウド",
    "data_migration": "データ移行",
    "schedule": "移行スケジュール",
    "deferred_system": "特定移行支援システム",
    "funding": "補助金・経費",
    "procurement": "調達・契約",
    "other": "その他",
}
STATE_LABELS = {"open": "対応中", "awaiting_asker": "質問者の回答待ち", "answered": "回答済み", "closed": "完了"}
TIER_LABELS = {"prefecture": "都道府県", "helpdesk": "国のヘルプデスク", "ministry": "所管府省"}


Text = Annotated[str, Field(min_length=1, max_length=10000), MultiLine]


class InquiryIn(BaseModel):
    """A new inquiry: a municipality's goes to its prefecture, a prefecture's to the national helpdesk."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200, examples=["Fit&Gap分析の進め方について"]), SingleLine]
    question: Text
    category: Category
    operation: Annotated[
        str | None, Field(max_length=40, description="operation code, e.g. jumin_kiroku"), SingleLine
    ] = None
    step: Annotated[str | None, Field(max_length=3, description="step code S01–S40"), SingleLine] = None


class MessageIn(BaseModel):
    """A message; internal ones are seen only by the author's own tier (never by the asker)."""

    model_config = ConfigDict(extra="forbid")

    text: Text
    internal: StrictBool = Field(False, description="a note internal to your tier (prefecture or helpdesk)")


class TextIn(BaseModel):
    """The text of an answer, a question back to the asker, or a reply."""

    model_config = ConfigDict(extra="forbid")

    text: Text


class RouteIn(BaseModel):
    """The ministry an inquiry goes to, and why."""

    model_config = ConfigDict(extra="forbid")

    ministry: Annotated[str, Field(min_length=1, max_length=40, examples=["総務省"]), SingleLine]
    reason: Text


class ReasonIn(BaseModel):
    """Why: the escalation reason, or what is still unclear when reopening."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=4000), MultiLine]


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str | None, Field(max_length=4000), MultiLine] = None


AccountId = Annotated[StrictInt, Field(ge=1, le=2_147_483_647)]


class AssignIn(BaseModel):
    """Who of the tier handling the inquiry works it: an account id, "me", or null to leave it unassigned."""

    model_config = ConfigDict(extra="forbid")

    assignee: AccountId | Literal["me"] | None = Field(examples=["me", 17, None])

    @field_validator("assignee", mode="wrap")
    @classmethod
    def _one_problem(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:  # one message for the field, not one per member of the union
            return handler(value)
        except ValidationError:
            raise ValueError(
                '担当者は "me"（自分）、アカウント番号（1 以上の整数）、または null（なし）で指定してください。'
            ) from None


class Assignee(BaseModel):
    id: int
    name: str


class Asker(BaseModel):
    role: str
    account: str
    body: str | None = Field(None, description="the asking body's code")
    body_name: str | None = None


class MessageOut(BaseModel):
    id: int
    author: str
    party: Party
    kind: MessageKind
    visibility: Visibility = Field(description="public, or the tier it is internal to")
    text: str
    created_at: datetime


class EventOut(BaseModel):
    at: datetime
    actor: str
    action: EventAction
    from_state: State | None
    to_state: State
    from_tier: Tier | None
    to_tier: Tier
    note: str | None


class InquirySummary(BaseModel):
    id: int
    title: str
    category: Category
    category_label: str
    operation: str | None
    step: str | None
    asker: Asker
    state: State
    state_label: str
    tier: Tier
    tier_label: str
    due_at: datetime | None = Field(
        description="when the current tier should have answered (null once answered or closed)"
    )
    overdue: bool = Field(description="open and past its due time")
    paused: bool = Field(description="waiting on the asker: the clock is stopped")
    assignee: Assignee | None = Field(
        description="the person of the handling tier working it (shown to the prefectures and the national tiers)"
    )
    created_at: datetime
    updated_at: datetime


class InquiryOut(InquirySummary):
    question: str
    answered_at: datetime | None
    closed_at: datetime | None
    reopen_until: datetime | None = Field(description="the asker may reopen until then")
    allowed_actions: list[Action] = Field(description="what the caller may do now")
    assignable: list[Assignee] = Field(description="whom the caller may assign it to (when assign is allowed)")
    messages: list[MessageOut]
    history: list[EventOut]


class SimilarFaq(BaseModel):
    id: int
    title: str
    score: float


class SimilarInquiry(BaseModel):
    id: int
    title: str
    state: State
    score: float = Field(description="share of the query's terms the inquiry contains")


class Similar(BaseModel):
    faqs: list[SimilarFaq]
    inquiries: list[SimilarInquiry] = Field(description="the caller's own open inquiries")


class FiledInquiry(InquiryOut):
    similar: Similar = Field(description="published FAQ entries and own open inquiries that look alike")


class SavedFilterIn(BaseModel):
    """A queue filter to keep under a name (the same name replaces the one kept before)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=60, examples=["期限超過（住民記録）"]), SingleLine]
    query: Annotated[
        str, Field(max_length=1000, description="the queue's query string, e.g. status=active&overdue=true"), SingleLine
    ]


class SavedFilterOut(BaseModel):
    id: int
    name: str
    query: str
    created_at: datetime
