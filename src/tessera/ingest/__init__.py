"""Turning files on disk into fingerprints: walking, reading once, hashing on all cores."""

from tessera.ingest.filehash import FileResult, HashOptions, hash_bytes, hash_file
from tessera.ingest.parallel import default_workers, hash_files
from tessera.ingest.walk import Found, iter_files

__all__ = [
    "FileResult",
    "Found",
    "HashOptions",
    "default_workers",
    "hash_bytes",
    "hash_file",
    "hash_files",
    "iter_files",
]
