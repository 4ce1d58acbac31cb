"""Directory data as served by the API."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BodyKind = Literal["prefecture", "designated_city", "city", "town", "village", "special_ward"]
OperationScope = Literal["municipality", "prefecture"]


class OperationOut(BaseModel):
    code: str = Field(examples=["jido_teate"])
    order: int
    name: str
    short_name: str
    ministry: str
    applies_to: list[OperationScope]


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["S01"])
    order: int
    phase: str
    group: str
    name: str


class BodyOut(BaseModel):
    code: str = Field(examples=["131016"])
    name: str
    name_kana: str
    kind: BodyKind
    prefecture_code: str = Field(description="2-digit prefecture number", examples=["13"])
    prefecture_name: str
    prefecture_body_code: str = Field(description="the prefecture's own body code", examples=["130001"])
