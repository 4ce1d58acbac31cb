"""Notification views and preferences."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Topic = Literal["inquiries", "notices", "reports", "advisers"]
Mode = Literal["immediate", "digest", "off"]


class NotificationOut(BaseModel):
    id: int
    kind: str
    topic: str | None = Field(description="the preference it follows; null: security, always mailed at once")
    subject: str
    text: str = Field(description="what happened, without the link and signature of the e-mail")
    path: str | None = Field(description="the page it is about")
    created_at: datetime
    read: bool
    delivery: str = Field(description="immediate, digest or none (not mailed)")


class PreferencesOut(BaseModel):
    modes: dict[str, Mode] = Field(description="topic → immediate, digest (once a day) or off (in the app only)")


class PreferencesIn(BaseModel):
    """The topics to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    modes: dict[Topic, Mode] = Field(min_length=1)
