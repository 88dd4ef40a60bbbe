"""Build hook for the optional compiled unmasking (livews.engine._speedups).

All project metadata lives in pyproject.toml; this file only declares the extension. It is optional: without
a C compiler the build skips it and livews.engine.masking falls back to pure Python.
"""

from __future__ import annotations

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "livews.engine._speedups",
            sources=["livews/engine/_speedups.c"],
            optional=True,
        )
    ]
)
