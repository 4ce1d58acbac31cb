"""People-facing Japanese messages used in more than one place: validation errors, unknown codes."""

from collections.abc import Sequence
from typing import Any

from pmo.directory.codes import code_problem
from pmo.periods import PERIOD_PATTERN
from pmo.text import control_problem

VALIDATION_MESSAGES = {
    "missing": "必須項目です。",
    "string_type": "文字列で指定してください。",
    "int_parsing": "整数で指定してください。",
    "int_type": "整数で指定してください。",
    "bool_parsing": "true か false で指定してください。",
    "literal_error": "指定できる値は {expected} です。",
    "enum": "指定できる値は {expected} です。",
    "string_pattern_mismatch": "形式が正しくありません（パターン {pattern}）。",
    "string_too_long": "{max_length}文字以内で指定してください。",
    "string_too_short": "{min_length}文字以上で指定してください。",
    "greater_than_equal": "{ge} 以上で指定してください。",
    "less_than_equal": "{le} 以下で指定してください。",
    "too_long": "要素は {max_length} 個までです。",
    "json_invalid": "JSON として読めません。",
    "model_attributes_type": "オブジェクトで指定してください。",
    "dict_type": "オブジェクトで指定してください。",
    "list_type": "配列で指定してください。",
    "extra_forbidden": "この項目は指定できません。",
    "date_from_datetime_parsing": "日付は YYYY-MM-DD で指定してください。",
}
MONTH_FORMAT = "年月は YYYY-MM（例 2025-04、月は 01〜12）で指定してください。"


def field_errors(errors: Sequence[Any]) -> list[dict]:
    """Pydantic's errors as the API's detail items: where, and in Japanese what to do."""
    out = []
    for err in errors:
        template = VALIDATION_MESSAGES.get(err["type"])
        ctx = err.get("ctx") or {}
        try:
            msg = template.format(**ctx) if template else err["msg"]
        except (KeyError, IndexError):
            msg = err["msg"]
        if err["type"] == "value_error":
            msg = str(ctx.get("error", err["msg"]))
        if err["type"] == "string_pattern_mismatch" and tuple(err["loc"]) == ("path", "code"):
            msg = code_problem(str(err["input"])) or msg  # say what is wrong with the code, not the pattern
        elif err["type"] == "string_pattern_mismatch" and ctx.get("pattern") == PERIOD_PATTERN:
            msg = MONTH_FORMAT
        elif err["type"] == "string_pattern_mismatch":
            msg = control_problem(str(ctx.get("pattern")), err.get("input")) or msg
        item = {"loc": list(err["loc"]), "msg": msg, "type": err["type"]}
        if "input" in err and isinstance(err["input"], (str, int, float, bool)) and err["type"] != "missing":
            item["input"] = err["input"]
        out.append(item)
    return out


def unknown_operation(codes: str | Sequence[str]) -> str:
    """The message for operation codes that do not exist."""
    named = repr(codes) if isinstance(codes, str) else "、".join(codes)
    return f"業務コード {named} はありません（/api/v1/operations を参照）。"


def unknown_step(code: str) -> str:
    """The message for a step code that does not exist."""
    return f"ステップコード {code!r} はありません（S01〜S40）。"
