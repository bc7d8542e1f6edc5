"""The base of every use-case result: typed, immutable, serialised one way.

Results are pydantic v2 models; the CLI's ``--json``, the HTML report and the API
all call ``model_dump(mode="json")`` (or ``to_json()``), so an output never
differs between interfaces. Datetimes serialise with ``datetime.isoformat()``
(``+00:00``, as round 1's ``--json`` did).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer

Timestamp = Annotated[
    datetime, PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json")
]
"""A datetime that serialises as ``isoformat()``."""


class Result(BaseModel):
    """Base of results: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready form every interface prints or sends."""
        return self.model_dump(mode="json")


__all__ = ["Result", "Timestamp"]
