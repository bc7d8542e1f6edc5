"""Schemathesis over the whole OpenAPI document: no input makes the server fail (5xx).

A bounded run (a few examples per operation) with a valid token, so requests get
past authentication and reach the routes' validation and use cases; responses
must also conform to the documented schemas where they are documented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, reject, settings
from schemathesis.checks import not_a_server_error

from tessera.api import create_app
from tessera.app import Settings
from tests.api.conftest import AUTH, Served

SPEC = create_app(Settings.for_home(Path("/nonexistent-tessera-home"))).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_errors(case: schemathesis.Case, served_module: Served) -> None:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=AUTH)
    kwargs.pop("cookies", None)
    if "data" in kwargs and "files" not in kwargs and not isinstance(kwargs["data"], dict):
        kwargs["content"] = kwargs.pop("data")
    if kwargs.get("files"):  # the generator may produce non-bytes file parts
        kwargs["files"] = [(name, _part(value)) for name, value in _items(kwargs["files"])]
    try:
        request = served_module.client.build_request(**kwargs)
    except httpx.InvalidURL:  # longer than any HTTP client sends (httpx refuses to build it)
        reject()
    response = served_module.client.send(request)
    response.request.read()  # multipart bodies are streams; schemathesis inspects the request
    case.validate_response(response, checks=[not_a_server_error])


def _items(files: Any) -> list[tuple[str, Any]]:
    return list(files.items()) if isinstance(files, dict) else list(files)


def _bytes(value: Any) -> Any:
    return value if isinstance(value, bytes) or hasattr(value, "read") else str(value).encode()


def _part(value: Any) -> Any:
    if isinstance(value, tuple):
        name, content, *rest = value
        return (name, _bytes(content), *rest)
    return _bytes(value)
