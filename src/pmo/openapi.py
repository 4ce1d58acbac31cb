"""The OpenAPI document as committed in openapi/openapi.json."""

import json


def openapi_text() -> str:
    """The app's OpenAPI document, serialized stably (sorted keys, trailing newline)."""
    from pmo.app import create_app

    return json.dumps(create_app().openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
