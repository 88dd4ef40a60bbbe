"""The checkout itself: what a newcomer's clone and a packager see is consistent."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import livews

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_gitignore_lists_no_tracked_file() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked_but_ignored = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked_but_ignored == []


def test_the_version_is_written_once_in_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project, setuptools = pyproject["project"], pyproject["tool"]["setuptools"]
    assert "version" not in project and "version" in project["dynamic"]
    assert setuptools["dynamic"]["version"] == {"attr": "livews.__version__"}
    # setuptools reads the attribute without importing the package only when it is a literal.
    tree = ast.parse((ROOT / "livews" / "__init__.py").read_text())
    [literal] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
    ]
    assert isinstance(literal, ast.Constant) and literal.value == livews.__version__


def _bare_close_codes(tree: ast.AST) -> list[int]:
    """Line numbers where a close code is a bare number: a ``code`` parameter's default, or the number a
    ``...code...`` value falls back to or is compared with (``close_code or 1006``, ``code == 1000``)."""

    def is_code(node: ast.AST) -> bool:
        name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
        return "code" in name.lower()

    def bare(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Constant) and type(node.value) is int and 1000 <= node.value <= 4999

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
            lines += [d.lineno for a, d in pairs if "code" in a.arg and bare(d)]
        elif isinstance(node, ast.BoolOp) and any(is_code(v) for v in node.values):
            lines += [v.lineno for v in node.values if bare(v)]
        elif isinstance(node, ast.IfExp) and (bare(node.body) or bare(node.orelse)):
            target = node.body if bare(node.body) else node.orelse
            lines += [target.lineno] if "code" in ast.unparse(node).lower() else []
        elif isinstance(node, ast.Compare) and (is_code(node.left) or any(map(is_code, node.comparators))):
            lines += [c.lineno for c in [node.left, *node.comparators] if bare(c)]
    return lines


def test_close_codes_outside_the_engine_are_written_by_name() -> None:
    package = Path(livews.__file__).resolve().parent
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.parent.name == "engine":
            continue  # the engine defines the names (codes.py) and parses the numbers off the wire
        for line in _bare_close_codes(ast.parse(path.read_text(encoding="utf-8"))):
            found.append(f"{path.relative_to(package)}:{line}")
    assert found == []


def test_a_python_process_a_test_starts_is_measured_beside_the_suite() -> None:
    coverage = pytest.importorskip("coverage")
    current = coverage.Coverage.current()
    if current is None:
        pytest.skip("this run does not measure coverage (--no-cov)")
    data_file = Path(current.config.data_file).resolve()
    before = set(data_file.parent.glob(data_file.name + ".*"))
    script = "import livews.engine.codes, sys; sys.exit(0)"
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
    written = set(data_file.parent.glob(data_file.name + ".*")) - before
    measured = set()
    for path in written:
        data = coverage.CoverageData(basename=str(path))
        data.read()
        measured |= {Path(f).name for f in data.measured_files()}
    assert "codes.py" in measured  # the child's own data file, combined into the suite's at the end
