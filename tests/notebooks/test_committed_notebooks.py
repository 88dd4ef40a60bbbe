"""The notebooks are stored executed, so a reader on the web sees results (`python notebooks/execute.py`)."""

from __future__ import annotations

import pytest

from .conftest import NOTEBOOKS

#: Outputs stay small: text tables and one modest plot, not megabytes of images in the history.
MAX_BYTES = 64 * 1024

NAMES = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks_to_check() -> None:
    assert NAMES  # the parametrized test below would otherwise check nothing


@pytest.mark.parametrize("name", NAMES)
def test_a_committed_notebook_is_executed_in_order_without_errors_and_small(name: str) -> None:
    nbformat = pytest.importorskip("nbformat")
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert all(cell.outputs for cell in code if "print(" in cell.source)
    assert [o.ename for cell in code for o in cell.outputs if o.output_type == "error"] == []
    assert path.stat().st_size <= MAX_BYTES
