"""A JSON request body parsed and validated in one pass (pydantic-core, in Rust), for routes whose bodies
are large enough that FastAPI's json.loads + Python-side validation is a cost worth avoiding."""

from typing import Any, Generic, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class JsonBody(Generic[Model]):
    """Parses raw bytes into Model; an empty body is Model(); errors are FastAPI's, located under "body"."""

    def __init__(self, model: type[Model]):
        self.model = model
        self._adapter = TypeAdapter(model)

    def parse(self, raw: bytes) -> Model:
        """The body as Model, or RequestValidationError (the 422 every other route gives)."""
        if raw.strip() in (b"", b"null"):  # as FastAPI read an optional body
            return self.model()
        try:
            return self._adapter.validate_json(raw)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            raise RequestValidationError(errors, body=raw) from None

    def openapi(self) -> dict[str, Any]:
        """The route's requestBody for openapi_extra (FastAPI documents only bodies it parses itself); the
        model's schema joins SCHEMAS, which the app adds to the document's components."""
        schema = self._adapter.json_schema(ref_template=REF + "{model}", mode="validation")
        SCHEMAS.update(schema.pop("$defs", {}))
        SCHEMAS[self.model.__name__] = schema
        ref = {"$ref": REF + self.model.__name__}
        return {"requestBody": {"content": {"application/json": {"schema": ref}}, "required": False}}


REF = "#/components/schemas/"
SCHEMAS: dict[str, Any] = {}  # the schemas of every JsonBody a route documents


def with_body_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with SCHEMAS in its components (FastAPI's own schemas win a name they share)."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in SCHEMAS.items():
        components.setdefault(name, schema)
    return document
