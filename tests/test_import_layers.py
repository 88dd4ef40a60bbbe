"""Imports flow one way: engine <- handler, resource <- server <- live <- cli.

The layers, their ranks and why are in the repository's ``ARCHITECTURE.md`` ("Layers and who may import
whom"); change that table and ``_RANKS`` below together.

The check reads every module of the package with ``ast`` (nothing is imported), resolves relative imports,
and compares the layer of the importer with the layer of what it imports. Imports under
``if TYPE_CHECKING:`` are annotations only and do not count; imports inside functions (lazy ones) do, and so
do imports by name: ``importlib.import_module("...")`` with a literal, and the ``_LAZY`` tables of package
facades (``name -> module``, a module of the package or a submodule of the facade's own package) that
``__getattr__`` imports on first use.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "livews"

#: Layer rank of each part of the package; a module may import only its own rank or lower ones.
_RANKS = {
    "livews.engine": 0,
    "livews.handler": 1,
    "livews.resource": 1,
    "livews.patterns": 1,
    "livews.server": 2,
    "livews.live": 3,
    "livews.cli": 4,
    "livews.testing": 4,
    "livews.supervisor": 4,
    "livews.__main__": 4,
}
#: The package facade (``livews/__init__.py``) re-exports the public names of the layers below it. It sits
#: above the server; the live layer may read it (``__version__``) but nothing under the live layer may.
_FACADE = "livews"
_FACADE_RANK = 2.5

_ENGINE_FORBIDDEN_STDLIB = {"asyncio", "socket", "selectors", "ssl", "threading"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> list[tuple[str, Path]]:
    return sorted((_module_name(p), p) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _lazy_table(node: ast.AST, module: str) -> Iterator[tuple[int, str]]:
    """(line, module) of each entry of a facade's ``_LAZY = {name: module}`` table."""
    if not (
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets)
        and isinstance(node.value, ast.Dict)
    ):
        return
    for value in node.value.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            name = value.value
            yield value.lineno, name if name.split(".")[0] == "livews" else f"{module}.{name}"


def _import_module_call(node: ast.AST) -> str | None:
    """The module of ``importlib.import_module("literal")`` (or ``import_module(...)``), else None."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    arg = node.args[0]
    if name == "import_module" and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every runtime import in ``tree``, the ones by name included."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.Assign):
            yield from _lazy_table(node, module)
        elif (by_name := _import_module_call(node)) is not None:
            yield node.lineno, by_name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base.pop()
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "__future__":
                continue
            # ``from livews import resource`` may name a submodule: count the most specific name.
            for alias in node.names:
                full = f"{target}.{alias.name}"
                yield node.lineno, full if _rank_of(full) is not None else target
        stack.extend(ast.iter_child_nodes(node))


def _rank_of(name: str) -> float | None:
    """Layer rank of a module inside the package, ``None`` outside it."""
    if name == _FACADE:
        return _FACADE_RANK
    for prefix, rank in _RANKS.items():
        if name == prefix or name.startswith(prefix + "."):
            return rank
    return None


def _all_imports() -> list[tuple[str, int, str]]:
    found = []
    for module, path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, target in _imports(tree, module, path.name == "__init__.py"):
            found.append((module, line, target))
    return found


def test_every_module_of_the_package_is_in_a_known_layer() -> None:
    unknown = [m for m, _ in _modules() if _rank_of(m) is None]
    assert unknown == []


def test_engine_imports_only_the_standard_library_and_itself() -> None:
    bad = []
    for module, line, target in _all_imports():
        if _rank_of(module) != 0:
            continue
        top = target.split(".")[0]
        inside = target == "livews.engine" or target.startswith("livews.engine.")
        if inside:
            continue
        if top in _ENGINE_FORBIDDEN_STDLIB or top not in sys.stdlib_module_names:
            bad.append(f"{module}:{line} imports {target}")
    assert bad == []


def test_no_layer_imports_a_layer_above_it() -> None:
    bad = []
    for module, line, target in _all_imports():
        if module == _FACADE:
            continue  # the facade re-exports; it is checked as an import target instead
        mine, theirs = _rank_of(module), _rank_of(target)
        if mine is None or theirs is None:
            continue
        if theirs > mine:
            bad.append(f"{module}:{line} imports {target}")
    assert bad == []


@pytest.mark.parametrize("layer", ["livews.engine", "livews.handler", "livews.resource", "livews.server"])
def test_engine_handler_resource_and_server_never_import_the_live_layer(layer: str) -> None:
    bad = [
        f"{module}:{line} imports {target}"
        for module, line, target in _all_imports()
        if (module == layer or module.startswith(layer + "."))
        and (target == "livews.live" or target.startswith("livews.live."))
    ]
    assert bad == []


def test_the_facade_imports_only_the_vocabulary_at_once_and_the_rest_by_name_on_first_use() -> None:
    """``import livews`` stays cheap: its eager imports are the engine, handler and resource layers; the
    server and the live layer come through its ``_LAZY`` table, which the walk sees."""
    path = PACKAGE / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    lazy_lines = {line for node in ast.walk(tree) for line, _ in _lazy_table(node, _FACADE)}
    eager, lazy = set(), set()
    for line, target in _imports(tree, _FACADE, True):
        rank = _rank_of(target)
        if rank is not None:
            (lazy if line in lazy_lines else eager).add((target, rank))
    assert {target for target, _ in lazy} >= {"livews.server", "livews.live.keep", "livews.live.notebook"}
    assert [target for target, rank in eager if rank > 1] == []


def test_the_layer_walk_sees_imports_by_name() -> None:
    source = (
        "import importlib\n"
        "_LAZY = {'Server': 'livews.server', 'TestClient': 'client'}\n"
        "def f():\n"
        "    return importlib.import_module('livews.live.keep')\n"
    )
    found = {t for _, t in _imports(ast.parse(source), "livews.testing", True)}
    assert found == {"importlib", "livews.server", "livews.testing.client", "livews.live.keep"}


def test_the_layer_walk_sees_relative_and_lazy_imports() -> None:
    source = (
        "from . import codes\n"
        "from ..server import Server\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ..live import registry\n"
        "def f():\n"
        "    import asyncio\n"
    )
    found = {t for _, t in _imports(ast.parse(source), "livews.engine.frames", False)}
    assert found == {"livews.engine.codes", "livews.server.Server", "typing", "asyncio"}


def test_importing_livews_loads_neither_asyncio_nor_the_server_nor_the_live_layer() -> None:
    """Handler files import ``livews`` on every (re)load: the vocabulary alone must stay cheap."""
    import subprocess

    code = (
        "import sys, livews\n"
        "from livews import Handler, resource, Resource\n"
        "names = ('asyncio', 'livews.server', 'livews.live', 'watchfiles')\n"
        "heavy = sorted(m for m in names if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    argv = [sys.executable, "-c", code]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=PACKAGE.parent, timeout=60)
    assert out.stdout.strip() == ""
