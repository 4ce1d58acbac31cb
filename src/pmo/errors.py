"""One error hierarchy; app.py renders every one of them as {"error": code, "message": …, "detail": …}."""

from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """The one shape of every error response (4xx and 5xx), ours or the framework's."""

    error: str = Field(
        description="machine-readable code, e.g. validation_error, forbidden, not_found, conflict",
        examples=["validation_error"],
    )
    message: str = Field(description="what went wrong and what to do, for a person (Japanese)")
    detail: Any = Field(description="validation errors: a list of {loc, msg, …}; otherwise an object or null")


class PmoError(Exception):
    """Base of every error a service may raise; status_code and code decide the HTTP answer."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, detail: Any = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.headers = headers or {}


class InvalidInput(PmoError):
    """Input that is well-formed JSON but breaks a rule; detail lists the fields."""

    status_code = 422
    code = "validation_error"

    @classmethod
    def at(cls, loc: list[Any], msg: str, **extra: Any) -> "InvalidInput":
        """One field error at loc, in the same shape FastAPI uses for request validation."""
        return cls(msg, detail=[{"loc": loc, "msg": msg, **extra}])


class Unauthenticated(PmoError):
    status_code = 401
    code = "unauthenticated"

    def __init__(self, message: str = "有効なアクセストークンが必要です。"):
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="pmo"'})


class Forbidden(PmoError):
    status_code = 403
    code = "forbidden"


class NotFound(PmoError):
    status_code = 404
    code = "not_found"


class Conflict(PmoError):
    status_code = 409
    code = "conflict"


class PreconditionFailed(PmoError):
    status_code = 412
    code = "precondition_failed"


class PayloadTooLarge(PmoError):
    status_code = 413
    code = "payload_too_large"


class TooManyRequests(PmoError):
    status_code = 429
    code = "too_many_requests"


class ServiceUnavailable(PmoError):
    status_code = 503
    code = "service_unavailable"
