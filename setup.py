"""Build the one compiled part of Tessera: the PDQ index's probe kernel.

Everything else is in pyproject.toml. The extension is optional: where no C compiler
is present the install still succeeds and the index uses its NumPy probe, which
returns the same pairs (tessera.index.kernel says which one runs).
"""

import platform

from setuptools import Extension, setup

FLAGS = ["-O3"]
if platform.machine().lower() in {"x86_64", "amd64"}:
    FLAGS.append("-mpopcnt")  # every x86-64 CPU since 2008; one instruction a popcount

setup(
    ext_modules=[
        Extension(
            "tessera.index._mih",
            ["src/tessera/index/_mih.c"],
            extra_compile_args=FLAGS,
            optional=True,
        )
    ]
)
