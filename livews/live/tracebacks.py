"""How the prompt shows an error: one line when a helper refused its arguments, the traceback otherwise.

A helper (``register``, ``send``, ``kick``...) that refuses what it was given raises the real exception
(``TypeError``, ``LookupError``...), but the frames it went through are livews's and the standard library's
(the hop onto the server loop and back), which tell the user nothing; the prompt prints
``LookupError: no client 99`` alone. As soon as the user's own code appears below the statement typed (a
handler's ``on_reload``, a function defined at the prompt), the whole traceback is shown, as Python would.
"""

from __future__ import annotations

import sysconfig
import traceback
from pathlib import Path

__all__ = ["format_error", "one_line"]

_LIVEWS = str(Path(__file__).resolve().parent.parent) + "/"
_STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve()) + "/"
_REFUSALS = (TypeError, ValueError, LookupError, TimeoutError, RuntimeError)


def one_line(exc: BaseException) -> str | None:
    """``Type: message`` if ``exc`` is a helper's refusal raised below the typed statement, else ``None``."""
    if not isinstance(exc, _REFUSALS):
        return None
    frames = traceback.extract_tb(exc.__traceback__)
    typed = [i for i, frame in enumerate(frames) if _typed(frame.filename)]
    if not typed:
        return None
    below = frames[typed[0] :]
    while below and _typed(below[0].filename):
        below = below[1:]
    if not below or not all(_ours(frame.filename) for frame in below):
        return None
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def format_error(exc: BaseException, skip: int = 0) -> str:
    """The text a prompt prints for ``exc``: one line for a helper's refusal, else the traceback.

    ``skip`` drops that many outer frames (the code that ran the statement) from the traceback shown.
    """
    line = one_line(exc)
    if line is not None:
        return line + "\n"
    tb = exc.__traceback__
    for _ in range(skip):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _typed(filename: str) -> bool:
    """A frame of the statement typed at a prompt (``<stdin>``, ``<attach>``, ``<python-input-0>``...)."""
    return filename.startswith("<")


def _ours(filename: str) -> bool:
    path = filename if filename.startswith("/") else str(Path(filename).resolve())
    return path.startswith(_LIVEWS) or (path.startswith(_STDLIB) and "site-packages" not in path)
