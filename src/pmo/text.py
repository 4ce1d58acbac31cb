"""Free text as it may enter the service — one line, or several — and never a control character.

Every text field of every request body and query parameter uses one of these, so a control character
is a 422 naming its field and the character (PostgreSQL cannot store NUL at all; ESC and the like break
spreadsheets). The rule is also declared in the OpenAPI document as a pattern, so clients (and the
fuzzer) know it."""

import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema


class _NoControls:
    def __init__(self, forbidden: str, what: str):
        self._search = re.compile(f"[{forbidden}]").search
        self._what = what
        self._pattern = f"^[^{forbidden}]*$"

    def _check(self, value: Any) -> Any:
        if isinstance(value, str) and (found := self._search(value)):
            raise ValueError(
                f"制御文字 U+{ord(found.group()):04X} は{self._what}使えません（{found.start() + 1}文字目）。"
                "取り除いてから送信してください。"
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        json_schema = handler(schema)
        for branch in json_schema.get("anyOf", [json_schema]):  # str | None: the string branch
            if branch.get("type") == "string":
                branch["pattern"] = self._pattern
        return json_schema


SingleLine = _NoControls(r"\x00-\x1f\x7f", "1行の項目には")
MultiLine = _NoControls(r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f", "")  # tab, LF and CR are part of text
