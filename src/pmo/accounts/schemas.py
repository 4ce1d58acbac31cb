"""Account views."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pmo.accounts.passwords import email_problem, normalized_email
from pmo.text import SingleLine


def _email(value: str) -> str:
    address = normalized_email(value)
    problem = email_problem(address)
    if problem:
        raise ValueError(problem)
    return address


EmailAddress = Annotated[str, Field(min_length=3, max_length=254), SingleLine, AfterValidator(_email)]


class MeOut(BaseModel):
    name: str
    role: str
    body_code: str | None
    prefecture_code: str | None
    administrator: bool = False


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any] | None


Role = Literal["municipality", "prefecture", "helpdesk", "admin", "viewer", "vendor", "ministry"]


class ManagedAccountIn(BaseModel):
    """A person to invite: their e-mail (the sign-in name), name, role and what the role binds to. A body's
    administrator may leave role and body out (its own staff); the level above names the body."""

    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    display_name: Annotated[str, Field(min_length=1, max_length=120), SingleLine]
    role: Role | None = None
    body: Annotated[str | None, Field(pattern=r"^[0-9]{6}$", description="団体コード（6桁）")] = None
    administrator: bool = False
    organization: Annotated[str | None, Field(max_length=120), SingleLine] = None
    operations: list[Annotated[str, Field(max_length=40)]] | None = Field(None, max_length=20)


class ManagedAccountChange(BaseModel):
    """What an administrator changes about an account of its scope; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[str | None, Field(min_length=1, max_length=120), SingleLine] = None
    role: Literal["admin", "helpdesk", "viewer"] | None = Field(
        None, description="national accounts only: between the roles bound to nothing else"
    )
    administrator: bool | None = None
    disabled: bool | None = None


class ManagedAccountOut(BaseModel):
    id: int
    name: str
    email: str | None
    display_name: str | None
    role: str
    body: str | None
    body_name: str | None
    administrator: bool
    organization: str | None
    disabled: bool
    password_set: bool
    second_factor: bool
    invitation_open: bool = Field(description="an invitation or reset link is out and not yet used")
    last_sign_in_at: datetime | None
    created_at: datetime
