"""The Autobahn|Testsuite fuzzing client against ``python -m livews serve``'s ``/echo``: every case strict OK.

The testsuite is Python 2 software; ``run.py`` builds its virtualenv on first use (from PyPI, with pyenv's
Python 2.7) and grades the report strictly. Which cases run is set by ``LIVEWS_AUTOBAHN_CASES`` (default:
everything but the slow compression groups, plus a sample of them); ``LIVEWS_AUTOBAHN_CASES='*'`` runs all.

The server compresses with the default backend (``auto``: zlib-ng when installed). The compression cases run
again with every other DEFLATE backend (``--deflate-backend``): ``LIVEWS_AUTOBAHN_BACKEND_CASES`` picks them
(default: a sample; ``'12.*,13.*'`` for both sections whole), ``LIVEWS_AUTOBAHN_BACKENDS`` the backends
(default ``zlib,isal``; empty: none).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CASES = "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.1.*,13.1.*,13.7.*"
#: The compression sample each other backend runs: every data kind (12.1-12.5) and every offer (13.1-13.7),
#: with unfragmented messages of 16 B to 32 KiB (cases 1-8 of each). The 64-128 KiB and fragmented cases
#: take about nine tenths of the time of 12.* and 13.*; what they add per backend (inflating more than one
#: 64 KiB step per read) is checked against plain zlib in tests/engine/test_zlib_backends.py.
DEFAULT_BACKEND_CASES = ",".join(
    f"{group}.{case}"
    for group in [*(f"12.{n}" for n in range(1, 6)), *(f"13.{n}" for n in range(1, 8))]
    for case in range(1, 9)
)
DEFAULT_BACKENDS = "zlib,isal"


def _backends() -> list[str]:
    return [name for name in os.environ.get("LIVEWS_AUTOBAHN_BACKENDS", DEFAULT_BACKENDS).split(",") if name]


def _run(tmp_path: Path, cases: str, *serve_options: str) -> None:
    serve = f"{sys.executable} -m livews serve --no-reload --port {{port}} --handlers {ROOT / 'handlers'}"
    command = [
        sys.executable,
        str(ROOT / "tests" / "autobahn" / "run.py"),
        "--server-cmd",
        " ".join((serve, *serve_options)),
        "--url",
        "ws://127.0.0.1:{port}/echo",
        "--cases",
        cases,
        "--out",
        str(tmp_path / "report"),
        "--timeout",
        "2400",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3000)
    report = result.stdout[-6000:] + result.stderr[-3000:]
    assert result.returncode == 0, report
    assert "not strictly OK" not in result.stdout, report


@pytest.mark.timeout(3100)  # the full run (``'*'``) may take wstest's own 2400 s limit
def test_fuzzingclient_grades_every_case_strict_ok(tmp_path: Path) -> None:
    _run(tmp_path, os.environ.get("LIVEWS_AUTOBAHN_CASES", DEFAULT_CASES))


@pytest.mark.timeout(3100)
@pytest.mark.parametrize("backend", _backends())
def test_compression_cases_grade_strict_ok_with_every_deflate_backend(tmp_path: Path, backend: str) -> None:
    _run(
        tmp_path,
        os.environ.get("LIVEWS_AUTOBAHN_BACKEND_CASES", DEFAULT_BACKEND_CASES),
        "--deflate-backend",
        backend,
    )
