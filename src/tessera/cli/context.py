"""What every command gets: the application, opened from settings resolved once, and
the caller (the local operator of this node).

The ``tessera`` group resolves ``Settings`` from ``--db`` / ``--home`` and the
environment (``tessera.app.settings``) and stores a ``CliContext`` in click's
``ctx.obj``; commands take it with ``@pass_app`` and call one use case with
``cli.app`` and ``cli.caller``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from tessera.app.caller import Caller, Role
from tessera.app.results import Result
from tessera.app.settings import Settings
from tessera.errors import ConfigError

if TYPE_CHECKING:  # imported where used: a command that needs neither does not pay for them
    from tessera.app.context import App
    from tessera.client import RemoteTessera


@dataclass
class CliContext:
    """The settings of this invocation, its App (opened lazily) and its caller."""

    settings: Settings = field(default_factory=Settings.resolve)
    caller: Caller = field(default_factory=Caller.local_operator)
    server: str | None = None
    """``--server`` / ``TESSERA_SERVER``: commands that can, run against that server."""
    token: str | None = field(default=None, repr=False)
    _app: App | None = field(default=None, repr=False)

    @property
    def app(self) -> App:
        if self.server:  # never answer locally what the user asked a server
            raise ConfigError(
                "this command does not run against a server; unset --server / TESSERA_SERVER"
            )
        if self._app is None:
            from tessera.app.context import App  # noqa: PLC0415

            self._app = App(self.settings)
        return self._app

    def close(self) -> None:
        """Close the App (its engines and their connections) once the command is done;
        the ``tessera`` group registers this on click's context."""
        if self._app is not None:
            self._app.close()
            self._app = None

    def acting_for(self, agency: str | None) -> Caller:
        """The operator at the node's command line acting for one agency (``--agency``,
        else the configured ``TESSERA_NODE_AGENCY``) with that agency's curator rights
        and view; without either, the node's local operator. An unknown agency is
        ``NotFound`` (a triage or lookup for nobody would notify nobody)."""
        code = agency or self.settings.node_agency
        if code is None:
            return self.caller
        from tessera.app import agencies  # noqa: PLC0415

        agencies.show(self.app, self.caller, code)  # NotFound, naming the code
        return Caller(role=Role.CURATOR, agency_code=code, request_id=self.caller.request_id)

    def remote(self) -> RemoteTessera:
        """The server named by ``--server``, with the token from ``TESSERA_TOKEN``."""
        assert self.server is not None
        from tessera.client import RemoteTessera  # noqa: PLC0415

        return RemoteTessera(self.server, self.token)


pass_app = click.make_pass_decorator(CliContext, ensure=True)


def emit(
    result: Result | Sequence[Result] | dict[str, Any],
    as_json: bool,
    text: str,
    *,
    indent: int = 2,
) -> None:
    """Print ``result`` as JSON (the same serialisation as the API) or ``text``."""
    if as_json:
        click.echo(json.dumps(to_json(result), indent=indent, default=str))
    else:
        click.echo(text)


def to_json(value: Any) -> Any:
    """Results (and lists / dicts of them) in their JSON form."""
    if isinstance(value, Result):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


__all__ = ["CliContext", "emit", "pass_app", "to_json"]
