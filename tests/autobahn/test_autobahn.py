"""The Autobahn|Testsuite fuzzing client against ``python -m livews serve``'s ``/echo``: every case strict OK.

The testsuite is Python 2 software; ``run.py`` builds its virtualenv on first use (from PyPI, with pyenv's
Python 2.7) and grades the report strictly. Which cases run is set by ``LIVEWS_AUTOBAHN_CASES`` (default:
everything but the slow compression groups, plus a sample of them); ``LIVEWS_AUTOBAHN_CASES='*'`` runs all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CASES = "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.1.*,13.1.*,13.7.*"


@pytest.mark.timeout(3100)  # the full run (``'*'``) may take wstest's own 2400 s limit
def test_fuzzingclient_grades_every_case_strict_ok(tmp_path: Path) -> None:
    cases = os.environ.get("LIVEWS_AUTOBAHN_CASES", DEFAULT_CASES)
    command = [
        sys.executable,
        str(ROOT / "tests" / "autobahn" / "run.py"),
        "--server-cmd",
        f"{sys.executable} -m livews serve --no-reload --port {{port}} --handlers {ROOT / 'handlers'}",
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
