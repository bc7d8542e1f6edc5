"""The command line as a client of a Tessera server (``--server URL``).

Files are hashed on the investigator's machine; only fingerprints travel. Answers
come back as the same result models the local use cases return (``tessera.app``),
so ``--json`` is identical whether a command ran locally or against a server.
The token comes from ``TESSERA_TOKEN`` (never an argument: arguments show in
process lists). A plain ``http://`` server is accepted on loopback only: a bearer
token must not cross a network in clear.
"""

from tessera.client.remote import RemoteTessera

__all__ = ["RemoteTessera"]
