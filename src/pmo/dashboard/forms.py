"""Posted forms: the CSRF check, and pydantic validation turned into the app's InvalidInput."""

from typing import Annotated, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
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
        detail = [{**e, "msg": f"{'.'.join(str(p) for p in e['loc']) or '入力'}：{e['msg']}"} for e in errors]
        raise InvalidInput(f"入力に {len(detail)} 件の誤りがあります。何も登録していません。", detail=detail) from None
