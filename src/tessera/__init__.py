"""Tessera: a media-comparison database for child-protection victim identification."""

__version__ = "0.1.0"

__all__ = ["__version__"]
