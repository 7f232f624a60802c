"""Build script: the package itself is described in pyproject.toml; this file adds the
optional Cython extension ``cs231n.im2col_cython`` that the fast conv layers use."""

from pathlib import Path

import numpy as np
from setuptools import Extension, setup

PYX = Path("cs231n") / "im2col_cython.pyx"


def extensions() -> list:
    if not PYX.exists():
        return []
    from Cython.Build import cythonize

    ext = Extension(
        "cs231n.im2col_cython",
        [str(PYX)],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    return cythonize([ext], compiler_directives={"language_level": "3"})


setup(ext_modules=extensions())
