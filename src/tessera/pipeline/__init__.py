"""The one file pipeline: walk, open archives, read each file once, fingerprint on all cores.

``hash``, ``ingest`` and ``triage`` all turn the paths a user names into per-file
results the same way; this package is that way. It knows nothing of the database
(ingest writes its results, matching compares them), so both can build on it
without importing each other.
"""
