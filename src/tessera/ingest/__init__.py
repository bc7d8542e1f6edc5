"""Putting a seizure into the shared database: resumable runs, atomic batches.

The files themselves are walked, read and fingerprinted by ``tessera.pipeline``;
this package records the pipeline's results (``runner``, ``writer``).
"""
