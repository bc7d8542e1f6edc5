"""The application layer: every interface (CLI, API, web) stands on it, nothing else.

Conventions (follow them when adding a use case):

* **Settings are resolved once**, in ``tessera.app.settings.Settings.resolve`` (flags
  over ``TESSERA_*`` environment over defaults): home, database URL, index folders,
  decode limits, workers. Nothing else reads the environment or builds paths.
* **One ``App`` per process** (``tessera.app.context.App(settings)``) owns the
  database, the transactions (``with app.transaction() as s:``) and the one
  ``PdqStore`` / ``SceneStore`` (single writer: get them only via ``app.pdq_store()``
  / ``app.scene_store()``).
* **A use case is a function in the module of its topic** (``tessera.app.series``,
  ``tessera.app.agencies``, ...), first arguments ``(app, caller, ...)``:
  ``series.show(app, caller, name) -> SeriesDetail``. The **caller**
  (``tessera.app.caller.Caller``: user, agency, role, request id) enters there and
  only there; visibility, sharing and audit are applied inside the use case (today
  the CLI passes ``Caller.local_operator()``). Names: verbs (``create``, ``show``,
  ``edit``, ``delete``), ``list_<things>`` for listings.
* **A use case opens its own transaction(s)** and calls repositories in
  ``tessera.storage`` (all SQL lives there) and the inner packages (``ingest``,
  ``matching``, ``media``, ``features``...). It never prints and never exits. It
  names the session type as ``tessera.storage.db.Session``: nothing above storage
  imports SQLAlchemy (import contract ``sql-in-storage``).
* **Long use cases report progress** through ``tessera.app.progress.Progress``
  (``begin`` / ``set_total`` / ``advance`` / ``end``, one stage at a time); the CLI
  draws it (``cli.progress.StageBars``), ``SILENT`` ignores it.
* **Results are pydantic models** deriving from ``tessera.app.results.Result``
  (frozen, ``to_json()``), declared in the topic module beside the use case.
  Interfaces serialise them with ``to_json()`` and nothing else, so ``--json`` and
  the API say the same. Never return ORM rows from a use case. (Not yet: triage
  returns ``tessera.matching.triage.TriageReport`` and hashing streams the
  pipeline's ``FileResult``; their ``to_json()`` is still the one serialisation.)
* **Errors** are ``tessera.errors`` classes only (never a bare ValueError); the CLI
  maps them to exit codes in ``tessera.cli.exit_codes``, the API to HTTP with
  ``tessera.app.problems.problem_for``.
* An interface stays thin: parse, call one use case, print/serialise the result
  (import contract ``thin-cli``: the CLI imports no storage, index store or SQL).
"""

from typing import TYPE_CHECKING

from tessera.app.caller import Caller, Role
from tessera.app.results import Result
from tessera.app.settings import Settings

if TYPE_CHECKING:
    from tessera.app.context import App

__all__ = ["App", "Caller", "Result", "Role", "Settings"]


def __getattr__(name: str) -> object:
    """``App`` on first use: the database machinery (SQLAlchemy) loads only when a
    process opens one, not for ``tessera --version`` or a use case's result types."""
    if name == "App":
        from tessera.app.context import App  # noqa: PLC0415

        return App
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
