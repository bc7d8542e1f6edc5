"""Generated, benign demonstration data."""

from tessera.demo.samples import synthetic_picture, write_samples

__all__ = ["synthetic_picture", "write_samples"]
