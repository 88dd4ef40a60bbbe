"""Execute the notebooks in this folder in a real kernel and store them with their outputs.

    python notebooks/execute.py            # every notebook here
    python notebooks/execute.py quickstart.ipynb

The notebooks are committed executed, so a reader on the web sees what each cell does. Run this after editing
a notebook, from a checkout whose ``livews`` imports (the kernel gets the checkout first on its path), and
commit the result. Per-cell timing metadata is not recorded, so a re-run changes only what the cells print.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def execute(path: Path) -> None:
    """Run ``path`` top to bottom in a fresh ``python3`` kernel started in this folder; stop at an error."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
    )
    env_path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    client.execute(env=dict(os.environ, PYTHONPATH=env_path, PYTHONUNBUFFERED="1"))
    nbformat.write(nb, path)
    print(f"{path.name}: {len(nb.cells)} cells, {path.stat().st_size // 1024} KiB")


def main(names: list[str]) -> None:
    for path in [HERE / name for name in names] or sorted(HERE.glob("*.ipynb")):
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])
