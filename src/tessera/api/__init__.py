"""The network service: a REST API (FastAPI) over the application layer.

``create_app(settings)`` builds one server process's application: Tessera's API
under ``/api/v1``, Meta HMA-compatible routes (``/h``, ``/m``, ``/c``), a health
route (``/status``), OpenAPI at ``/openapi.json``. Everything but the health route
needs a bearer token; errors are RFC 9457 problem documents mapped in one place
(``tessera.api.problems``); bodies over their limit are refused before they are
read (``tessera.api.limits``). Each worker searches a live, memory-mapped PDQ
index that follows the database within a second and never blocks a request on a
reload (``tessera.matching.live_index``).
"""

from tessera.api.factory import app_from_environment, create_app

__all__ = ["app_from_environment", "create_app"]
