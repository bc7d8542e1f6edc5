"""The shared database: SQLAlchemy models, migrations and the one repository layer."""

from tessera.storage.db import Database

__all__ = ["Database"]
