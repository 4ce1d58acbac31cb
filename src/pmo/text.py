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
        _BY_PATTERN[self._pattern] = self

    def problem(self, value: Any) -> str | None:
        """Which control character the value holds, where, and what to do (None when it holds none)."""
        if isinstance(value, str) and (found := self._search(value)):
            return (
                f"制御文字 U+{ord(found.group()):04X} は{self._what}使えません（{found.start() + 1}文字目）。"
                "取り除いてから送信してください。"
            )
        return None

    def _check(self, value: Any) -> Any:
        message = self.problem(value)
        if message is not None:
            raise ValueError(message)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        # A string schema takes the rule as its pattern, checked inside pydantic-core (a full 800-cell report
        # has 1,600 such fields: a Python check each was a sixth of validating it); messages.field_errors
        # turns a mismatch back into problem()'s words. Other schemas keep the check in Python.
        schema = handler(source)
        inner = schema.get("schema") if schema["type"] == "nullable" else schema
        if isinstance(inner, dict) and inner.get("type") == "str" and "pattern" not in inner:
            inner["pattern"] = self._pattern
            return schema
        return core_schema.no_info_after_validator_function(self._check, schema)

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        json_schema = handler(schema)
        for branch in json_schema.get("anyOf", [json_schema]):  # str | None: the string branch
            if branch.get("type") == "string":
                branch["pattern"] = self._pattern
        return json_schema


_BY_PATTERN: dict[str, "_NoControls"] = {}


def control_problem(pattern: str, value: Any) -> str | None:
    """For a pattern mismatch of a free-text field: the control character's words (None for other patterns)."""
    rule = _BY_PATTERN.get(pattern)
    return rule.problem(value) if rule is not None else None


SingleLine = _NoControls(r"\x00-\x1f\x7f", "1行の項目には")
MultiLine = _NoControls(r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f", "")  # tab, LF and CR are part of text
