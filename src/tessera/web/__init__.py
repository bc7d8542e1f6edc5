"""The investigators' web UI, served by ``tessera serve`` beside the REST API.

Server-rendered pages (Jinja2 templates in ``templates/``) with a little vanilla
JavaScript and CSS from ``static/``: nothing is loaded from outside the node
(investigators' networks are closed). The web layer is thin, like the API: it
reads a browser session, calls one use case of ``tessera.app`` and renders the
typed result. Sessions are the accounts' browser sessions (HttpOnly, SameSite=
Strict cookie; a CSRF token in every form and unsafe fetch). What a caller may
not see answers 404; every page view and every picture reveal is audited.

``create_app(settings)`` is the whole node: the API (``tessera.api``) with the
pages mounted on it.
"""

from tessera.web.factory import app_from_environment, create_app

__all__ = ["app_from_environment", "create_app"]
