"""The default bounds of one decode, in a module of their own: settings name them
without loading the decoders (``tessera.media.decode`` re-exports them)."""

from __future__ import annotations

DEFAULT_MAX_PIXELS = 200_000_000
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_MEMORY = 1536 * 1024 * 1024
"""Bytes of pixel work one decode may use (the worker's imports come on top: the
whole worker stays under 2 GB)."""
