"""The tamper-evident audit trail's pure core: Merkle trees, signed notes, checkpoints.

No database and no files here: ``storage.audit_log`` keeps the entries and
checkpoints, ``tessera.app`` records who did what; this package only computes
and checks hashes and signatures.
"""
