"""The optional compiled accelerator (``_speedups``), or None; the one place that decides which.

``pip install`` builds it when a C compiler is present. It is used unless the environment variable
``LIVEWS_NO_SPEEDUPS`` is set to a non-empty value other than ``0`` at import time, so one test run can check
the pure path too. Every function it provides has a pure-Python twin that gives the same results; the modules
that use it (``masking``, ``frames``, ``reader``) pick one of the two at import.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["speedups"]


def _load() -> ModuleType | None:
    if os.environ.get("LIVEWS_NO_SPEEDUPS", "") not in ("", "0"):
        return None
    try:
        return importlib.import_module("livews.engine._speedups")
    except ImportError:  # pragma: no cover - depends on the build
        return None


speedups = _load()
