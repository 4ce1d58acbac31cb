"""Posted forms: the CSRF check, and pydantic validation turned into the app's InvalidInput."""

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from pmo.dashboard import session as page_session
from pmo.errors import InvalidInput
from pmo.messages import field_errors

M = TypeVar("M", bound=BaseModel)


async def csrf_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matched the session's (403 otherwise)."""
    form = await request.form()
    sent = form.get("csrf")
    page_session.check_csrf(request, sent if isinstance(sent, str) else None)
    return form


CsrfForm = Annotated[FormData, Depends(csrf_form)]


def text(form: FormData, name: str) -> str | None:
    """A text field, stripped; None when absent or blank."""
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def validated(model: type[M], data: dict) -> M:
    """data as model (the same model the API validates with); 422 listing each field's problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc.errors())  # the API's Japanese messages
        detail = [
            {**e, "msg": f"{'.'.join(str(p) for p in e['loc']) or '入力'}：{e['msg']}", "field_msg": e["msg"]}
            for e in errors
        ]
        raise InvalidInput(f"入力に {len(detail)} 件の誤りがあります。何も登録していません。", detail=detail) from None


FieldErrors = dict[str, str]  # form field name → what is wrong with it, in Japanese


def attempt(session: Session, action: Callable[[], object]) -> FieldErrors | None:
    """Run a form's action; when it is refused as invalid, undo whatever it wrote and return the problems by
    form field (the last part of each location; "" for the form as a whole), for the page to show next to
    each field. None when it succeeded."""
    try:
        action()
    except InvalidInput as exc:
        session.rollback()
        errors: FieldErrors = {}
        for item in exc.detail if isinstance(exc.detail, list) else []:
            loc = item.get("loc") or []
            name = str(loc[-1]) if loc and not isinstance(loc[-1], int) else ""
            errors.setdefault(name, str(item.get("field_msg") or item.get("msg") or exc.message))
        return errors or {"": exc.message}
    return None
