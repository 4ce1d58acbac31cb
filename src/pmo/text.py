"""Free text as it may enter the service — one line, or several — and never a control character.

Every text field of every request body and query parameter uses one of these, so a control character
is a 422 naming its field (PostgreSQL cannot store NUL at all; ESC and the like break spreadsheets)."""

import re

from pydantic import AfterValidator

_CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, LF and CR are part of text


def _refuse(pattern: re.Pattern, what: str):
    def check(value: str | None) -> str | None:
        if value is not None and (found := pattern.search(value)):
            raise ValueError(f"制御文字 U+{ord(found.group()):04X} は{what}使えません（{found.start() + 1}文字目）。"
                             "取り除いてから送信してください。")
        return value

    return check


SingleLine = AfterValidator(_refuse(_CONTROL_IN_LINE, "1行の項目には"))
MultiLine = AfterValidator(_refuse(_CONTROL_IN_LINES, ""))
