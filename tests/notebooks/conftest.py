"""Shared pieces for the notebook tests: a time unit, started servers, notebooks run in a real kernel."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from livews.live import notebook
from livews.live.notebook import NotebookServer

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"

#: The time unit for every bounded wait in these tests (scale it up on a slow machine).
T = float(os.environ.get("LIVEWS_TEST_TIMEOUT", "10"))


@pytest.fixture(autouse=True, scope="session")
def _ipython_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """IPython (kernels, shells in subprocesses) keeps its profile and history in a temp dir, not ``~``."""
    saved = os.environ.get("IPYTHONDIR")
    os.environ["IPYTHONDIR"] = str(tmp_path_factory.mktemp("ipython"))
    yield
    if saved is None:
        del os.environ["IPYTHONDIR"]
    else:
        os.environ["IPYTHONDIR"] = saved


@pytest.fixture
def start() -> Iterator[Callable[..., NotebookServer]]:
    """``livews.start`` with a key per test; every server started through it is stopped afterwards."""
    started: list[NotebookServer] = []

    def start_one(**options: Any) -> NotebookServer:
        options.setdefault("quiet", True)
        options.setdefault("call_timeout", T)
        server = notebook.start(**options)
        started.append(server)
        return server

    yield start_one
    for server in started:
        server.stop(timeout=T)


@dataclass
class Cell:
    """One executed code cell: its streams and rich outputs, by MIME type."""

    tag: str
    stdout: str
    stderr: str
    data: dict[str, str]
    errors: list[str]
    executed: bool


@dataclass
class ExecutedNotebook:
    cells: dict[str, Cell]

    def __getitem__(self, tag: str) -> Cell:
        return self.cells[tag]


def run_notebook(name: str | Path) -> ExecutedNotebook:
    """Execute ``notebooks/<name>`` (or the notebook at a path) top to bottom in a fresh ipykernel, as Jupyter
    would, and collect outputs.

    The kernel runs in the notebook's folder with this checkout first on its path. Each cell gets ``6 * T``
    seconds; a failing cell is recorded (``Cell.errors``) and the run goes on, so a test can say which cell
    failed.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    file = NOTEBOOKS / name  # an absolute path stays as it is
    nb = nbformat.read(file, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=int(6 * T),
        startup_timeout=int(6 * T),
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(file.parent)}},
    )
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    client.execute(env=dict(os.environ, PYTHONPATH=path, PYTHONUNBUFFERED="1"))
    cells: dict[str, Cell] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tag = (cell.metadata.get("tags") or [f"cell {index}"])[0]
        streams = {"stdout": "", "stderr": ""}
        data: dict[str, str] = {}
        errors: list[str] = []
        for output in cell.outputs:
            if output.output_type == "stream":
                streams[output.name] += output.text
            elif output.output_type in ("execute_result", "display_data"):
                for mime, value in output.data.items():
                    data[mime] = data.get(mime, "") + (value if isinstance(value, str) else str(value))
            elif output.output_type == "error":
                errors.append(f"{output.ename}: {output.evalue}")
        executed = cell.get("execution_count") is not None
        cells[tag] = Cell(tag, streams["stdout"], streams["stderr"], data, errors, executed)
    return ExecutedNotebook(cells)


def assert_ran_clean(nb: ExecutedNotebook) -> None:
    """Every code cell ran, and none raised."""
    failed = {tag: cell.errors for tag, cell in nb.cells.items() if cell.errors}
    assert failed == {}
    assert [tag for tag, cell in nb.cells.items() if not cell.executed] == []


def has_matplotlib() -> bool:
    """The kernel runs this interpreter, so it can plot when this process can import matplotlib."""
    return importlib.util.find_spec("matplotlib") is not None
