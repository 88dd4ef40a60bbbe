"""Load one handler file into a fresh module, or explain in one line why it cannot be loaded.

Loading never touches what is running: the new module is built beside the old one and only replaces it in
``sys.modules`` once its code ran and its resources were collected. Any failure (syntax error, an exception at
import time, a bad ``@resource``) restores the previous module and comes back as a :class:`LoadError` that
names the file and the line; that includes any ``BaseException`` (``KeyboardInterrupt``, ``SystemExit``) the
file raises, so user code can never end the caller. Values the old module passed to :func:`livews.keep` are
handed to the new module's ``keep`` calls while it executes.

The caller may pass the bytes it read (``source=``): the loader then compiles exactly those, so a save landing
meanwhile cannot mix two versions. Every handler module is a submodule of one package per handlers directory
(``livews_handlers_<tag>``, whose ``__path__`` is that directory), so a handler file imports a helper module
beside it with a relative import: ``from .util import shout``.

This module does not know about the server, the registry or the swap; it may run on any thread.
"""

from __future__ import annotations

import hashlib
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from .keep import carrying, kept_values

__all__ = [
    "Interrupted",
    "LoadError",
    "LoadedFile",
    "is_handler_file",
    "load_file",
    "module_name_for",
    "package_for",
]

Collect = Callable[[ModuleType], Sequence[Any]]


def is_handler_file(path: Path) -> bool:
    """A file the reloader loads: ``*.py`` directly in the handlers directory, not hidden, not ``_private``.

    Editor temporaries (``.echo.py.swp``, ``echo.py~``, ``#echo.py#``, ``4913``) never match. The one rule
    for ``python -m livews serve`` (which loads once) and the reloader (which loads and watches).
    """
    name = path.name
    return name.endswith(".py") and not name.startswith((".", "_", "#", "~")) and name.isprintable()


@dataclass
class LoadedFile:
    """A handler file that executed cleanly and the resources it declares."""

    path: Path
    module: ModuleType
    resources: list[Any]
    digest: str
    carried: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    given: dict[str, Any] = field(default_factory=dict)
    source: bytes = b""
    loaded_at: float = 0.0


class LoadError(Exception):
    """A handler file that could not be loaded; the running code is untouched.

    ``str()`` is one line: ``path:line: ExceptionType: message``. ``detail`` adds the offending source line
    and, for an exception raised while executing, the traceback from the file's first frame on.
    """

    def __init__(self, path: Path, line: int | None, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.path = path
        self.line = line
        self.summary = summary
        self.detail = detail

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.summary}"


def package_for(directory: Path) -> str:
    """The package every handler module of ``directory`` belongs to (created in ``sys.modules`` on demand)."""
    resolved = directory.resolve()
    name = f"livews_handlers_{hashlib.sha1(str(resolved).encode()).hexdigest()[:6]}"
    package = sys.modules.get(name)
    if package is None:
        package = ModuleType(name, f"handler files of {resolved}")
        package.__path__ = [str(resolved)]
        package.__package__ = name
        sys.modules[name] = package
    return name


def module_name_for(path: Path) -> str:
    """A module name stable for one file and distinct across directories (several servers in one process)."""
    resolved = path.resolve()
    stem = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in resolved.stem)
    return f"{package_for(resolved.parent)}.{stem}"


def load_file(
    path: Path, collect: Collect, previous: ModuleType | None = None, *, source: bytes | None = None
) -> LoadedFile:
    """Execute ``path`` into a fresh module and collect its resources, or raise :class:`LoadError`.

    ``previous`` is the module this file produced last time: its kept values are carried into the new one.
    ``source`` is the text to compile (default: read the file now, once).
    """
    path = path.resolve()
    if source is None:
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise LoadError(path, None, f"{type(exc).__name__}: {exc.strerror or exc}") from None
    name = module_name_for(path)
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise _syntax_error(path, exc) from None
    module = ModuleType(name)
    module.__file__ = str(path)
    module.__package__ = name.rpartition(".")[0]
    namespace = vars(module)
    old = sys.modules.get(name)
    sys.modules[name] = module
    try:
        with carrying(namespace, kept_values(previous)) as carry:
            exec(code, namespace)
        resources = list(collect(module))
    except BaseException as exc:
        if old is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = old
        if isinstance(exc, Interrupted):
            raise  # the time limit stopped this load: the caller reports where it hung
        raise _exec_error(path, exc) from None
    return LoadedFile(
        path=path,
        module=module,
        resources=resources,
        digest=hashlib.sha1(source).hexdigest(),
        carried=carry.carried,
        reset=carry.reset,
        given=carry.given,
        source=source,
        loaded_at=time.time(),
    )


class Interrupted(BaseException):
    """Raised inside a loading thread that ran over its time limit (see ``loadjob``); never caught by it."""


def _syntax_error(path: Path, exc: SyntaxError) -> LoadError:
    text = (exc.text or "").rstrip("\n")
    detail = ""
    if text:
        caret = " " * max((exc.offset or 1) - 1 - (len(text) - len(text.lstrip())), 0) + "^"
        detail = f"    {text.strip()}\n    {caret}"
    return LoadError(path, exc.lineno, f"{type(exc).__name__}: {exc.msg}", detail)


def _exec_error(path: Path, exc: BaseException) -> LoadError:
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        return _syntax_error(path, exc)
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
    frames = traceback.extract_tb(exc.__traceback__)
    in_file = [i for i, frame in enumerate(frames) if frame.filename == str(path)]
    line = frames[in_file[-1]].lineno if in_file else None
    first = in_file[0] if in_file else 0
    detail = "".join(traceback.format_list(frames[first:])).rstrip("\n")
    _drop(exc.__traceback__)
    return LoadError(path, line, summary, detail)


def _drop(tb: TracebackType | None) -> None:
    """Clear the failed module's frames so a bad version does not stay alive through its traceback."""
    while tb is not None:
        try:
            tb.tb_frame.clear()
        except RuntimeError:
            pass
        tb = tb.tb_next
