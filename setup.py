"""Build Tessera's compiled parts: the PDQ index's probe kernel and the scene index's
tf-idf scoring.

Everything else is in pyproject.toml. The extensions are optional: where no C compiler
is present the install still succeeds and NumPy does the same work with the same
results (tessera.index.kernel and tessera.features.tfidf_kernel say which one runs).
"""

import platform

from setuptools import Extension, setup

FLAGS = ["-O3", "-ffp-contract=off"]  # no fused multiply-add: NumPy's roundings exactly
if platform.machine().lower() in {"x86_64", "amd64"}:
    FLAGS.append("-mpopcnt")  # every x86-64 CPU since 2008; one instruction a popcount

setup(
    ext_modules=[
        Extension(
            "tessera.index._mih",
            ["src/tessera/index/_mih.c"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        Extension(
            "tessera.features._tfidf",
            ["src/tessera/features/_tfidf.c"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
    ]
)
