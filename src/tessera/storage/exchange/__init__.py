"""Exchange records in the database: applied by an import (``importer``), matched by a
later ingest of the file itself (``hash_only``), and read back out for export
(``export``); ``records`` is what storage needs of a record and how its hashes are kept.
"""
