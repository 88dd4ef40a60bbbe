"""The DEFLATE implementations permessage-deflate can use: stdlib ``zlib``, ``zlib-ng`` and ``isal``.

``deflate.py`` compresses and inflates through a ``ZlibBackend``: a module with zlib's ``compressobj`` /
``decompressobj`` interface, the levels it accepts and the exception it raises on corrupt data. Plain ``zlib``
is always there and always the fallback; the others are optional packages (``pip install livews[deflate]``),
imported only when asked for, so the engine stays stdlib-only at import.

What each one supports, checked against what ``deflate.py`` relies on (``tests/engine/test_zlib_backends.py``
keeps it so):

- **zlib** (``zlib``): levels 0..9, raw windows 9..15 to compress and 8..15 to inflate, ``memLevel`` 1..9,
  ``Z_SYNC_FLUSH``, ``max_length`` with ``unconsumed_tail``, ``eof`` and ``unused_data`` after a final block.
- **zlib-ng** (``zlib_ng.zlib_ng``, zlib-ng 2.x in compatible mode's API): the same interface and level
  scale, with different (equally valid) output: level 1 is a quick static-Huffman mode that is faster and
  compresses less. Its compressor keeps a fixed 64 Ki-entry hash table whatever ``memLevel`` says: about
  160 KiB at a 12-bit window (zlib: 38 KiB), 41 KiB for its inflater.
- **isal** (``isal.isal_zlib``, Intel ISA-L): levels **0..3 only** (0 is a fast compression, not stored
  blocks); a level outside that range is refused when the configuration is made, never mapped silently.
  Windows and ``memLevel`` as zlib. ``max_length`` is honoured, but the inflater takes the whole input at
  once and keeps what it has not yet written out, so ``unconsumed_tail`` stays empty while output is
  pending; ``deflate.py`` keeps asking while a step came back full, which covers both. Its inflater works
  with a 32 KiB window whatever was agreed, so a client that reaches past its agreed window is not caught
  (zlib catches it when the reference reaches into an earlier message). About 228 KiB for a compressor and
  85 KiB for an inflater.

``"auto"`` picks zlib-ng when it is installed, else zlib. isal is used only when named: its level scale is
not zlib's, so choosing it silently would change what a configured level means.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["AUTO", "BACKEND_NAMES", "ZlibBackend", "available_backends", "load_backend", "resolve_backend"]

AUTO = "auto"
#: Every backend this module knows, by the name a ``DeflateConfig`` uses.
BACKEND_NAMES = ("zlib", "zlib-ng", "isal")
#: What ``"auto"`` tries, in order; plain zlib last, always importable.
_AUTO_ORDER = ("zlib-ng", "zlib")
#: name -> (module path, exception attribute, levels, default level, package to install)
_SPECS: dict[str, tuple[str, str, range, int, str]] = {
    "zlib": ("zlib", "error", range(0, 10), 6, ""),
    "zlib-ng": ("zlib_ng.zlib_ng", "error", range(0, 10), 6, "zlib-ng"),
    "isal": ("isal.isal_zlib", "error", range(0, 4), 2, "isal"),
}


_Bytes = bytes | bytearray | memoryview


class Compressor(Protocol):
    """What ``deflate.py`` uses of a ``compressobj()``."""

    def compress(self, data: _Bytes, /) -> bytes: ...
    def flush(self, mode: int = ..., /) -> bytes: ...


class Decompressor(Protocol):
    """What ``deflate.py`` uses of a ``decompressobj()``."""

    def decompress(self, data: _Bytes, /, max_length: int = ...) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    @property
    def unconsumed_tail(self) -> bytes: ...

    @property
    def unused_data(self) -> bytes: ...


@dataclass(frozen=True, slots=True, eq=False)
class ZlibBackend:
    """One DEFLATE implementation, loaded: make compressors and inflaters, know its levels and its error."""

    name: str
    module: Any
    #: Raised by the module for data that is not valid DEFLATE.
    error: type[Exception]
    levels: range
    default_level: int
    sync_flush: int

    def compressor(self, level: int, wbits: int, mem_level: int) -> Compressor:
        """A raw-DEFLATE compressor (``wbits`` 9..15) at ``level`` (one of ``levels``)."""
        compressor: Compressor = self.module.compressobj(level, self.module.DEFLATED, -wbits, mem_level)
        return compressor

    def decompressor(self, wbits: int) -> Decompressor:
        """A raw-DEFLATE inflater for a peer that compresses with a ``wbits`` (8..15) window."""
        decompressor: Decompressor = self.module.decompressobj(-wbits)
        return decompressor

    def check_level(self, level: int) -> None:
        """Raise ``ValueError`` for a level this backend cannot compress at."""
        if level not in self.levels:
            raise ValueError(
                f"level must be between {self.levels.start} and {self.levels.stop - 1} "
                f"for the {self.name} backend, not {level}"
            )

    def __repr__(self) -> str:
        return f"ZlibBackend({self.name!r})"


_loaded: dict[str, ZlibBackend] = {}


def load_backend(name: str) -> ZlibBackend:
    """The backend called ``name`` (one of ``BACKEND_NAMES``), imported on first use.

    ``ValueError`` for an unknown name; ``ImportError`` saying what to install for one that is not installed.
    """
    backend = _loaded.get(name)
    if backend is not None:
        return backend
    spec = _SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown deflate backend {name!r}: use one of {', '.join((AUTO, *BACKEND_NAMES))}")
    module_name, error_name, levels, default_level, package = spec
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"the {name} deflate backend needs the {package} package: pip install {package} "
            "(or livews[deflate])"
        ) from exc
    backend = ZlibBackend(
        name=name,
        module=module,
        error=getattr(module, error_name),
        levels=levels,
        default_level=default_level,
        sync_flush=module.Z_SYNC_FLUSH,
    )
    _loaded[name] = backend
    return backend


def resolve_backend(name: str) -> ZlibBackend:
    """``load_backend(name)``, or for ``"auto"`` the first installed of zlib-ng and zlib."""
    if name != AUTO:
        return load_backend(name)
    for candidate in _AUTO_ORDER:
        try:
            return load_backend(candidate)
        except ImportError:
            continue
    raise AssertionError("unreachable: zlib is part of the standard library")  # pragma: no cover


def available_backends() -> list[str]:
    """The names of the backends that import here, zlib first."""
    names = []
    for name in BACKEND_NAMES:
        try:
            load_backend(name)
        except ImportError:
            continue
        names.append(name)
    return names
