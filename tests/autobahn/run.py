"""Run the Autobahn|Testsuite fuzzing client against a WebSocket echo server and grade it strictly.

    python tests/autobahn/run.py --url ws://127.0.0.1:9001
    python tests/autobahn/run.py --server-cmd "python tests/autobahn/peer_websockets_echo.py --port {port}"

The testsuite (``wstest``) is Python 2 code, so it lives in its own virtualenv outside the repository, built
from a Python 2.7 interpreter with every dependency pinned (see ``PINS``); this script creates that virtualenv
when it is missing or was built from other pins. The script itself is Python 3 and stdlib only.

It writes the fuzzingclient spec, runs ``wstest -m fuzzingclient``, reads ``index.json`` from the report
folder and prints counts per behaviour and per case group, every case that is not strictly OK, and the time
each group took. Exit status: 0 when every graded case is "OK" for both behaviour and close behaviour,
1 when any case is not (or is missing from the report), 2 when the harness itself could not run.

It knows nothing about livews: any server that echoes messages back can be graded.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "BOOTSTRAP_VIRTUALENV",
    "PINS",
    "UNGRADED_CASES",
    "CaseResult",
    "HarnessError",
    "Report",
    "ensure_testsuite",
    "main",
    "read_report",
]

REPO_ROOT = Path(__file__).resolve().parents[2]


def _user_cache() -> Path:
    """livews' folder in the user's cache (``$XDG_CACHE_HOME/livews``, else ``~/.cache/livews``).

    What the harness builds lives there, never in a system folder: a test must not need root, and must not
    write where the user did not expect it.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "livews"


#: Every distribution in the testsuite's virtualenv, pinned. autobahntestsuite 25.10.1 is still Python 2
#: code (print statements, ``except X, e``) built on autobahn 0.10.9; these are the versions its own
#: metadata pins, plus the transitive dependencies pip picked for Python 2.7, frozen.
#: wsaccel (from ``autobahn[accelerate]``) is a C extension: it makes UTF-8 validation and masking in
#: wstest fast enough that wstest is not the bottleneck of the 9.* cases.
PINS: tuple[str, ...] = (
    "autobahntestsuite==25.10.1",
    "autobahn[accelerate,twisted]==0.10.9",
    "Twisted==19.10.0",
    "txaio==2.1.0",
    "zope.interface==4.6.0",
    "incremental==16.10.1",
    "constantly==15.1.0",
    "Automat==22.10.0",
    "attrs==21.4.0",
    "hyperlink==21.0.0",
    "idna==2.10",
    "PyHamcrest==1.10.1",
    "six==1.16.0",
    "pyOpenSSL==19.1.0",
    "cryptography==3.3.2",
    "cffi==1.15.1",
    "pycparser==2.21",
    "enum34==1.1.10",
    "ipaddress==1.0.23",
    "service-identity==18.1.0",
    "pyasn1==0.5.1",
    "pyasn1-modules==0.3.0",
    "klein==17.10.0",
    "Werkzeug==1.0.1",
    "Jinja2==2.11.3",
    "MarkupSafe==1.1.1",
    "unittest2==1.1.0",
    "argparse==1.4.0",
    "linecache2==1.0.0",
    "traceback2==1.4.0",
    "typing==3.10.0.0",
    "wsaccel==0.6.6",
    "ujson==2.0.3",
    "setuptools==44.0.0",
)

#: Installed into a temporary folder with this interpreter's pip, only to create the Python 2.7
#: virtualenv: 20.21.x is the last virtualenv that can still create Python 2 environments.
BOOTSTRAP_VIRTUALENV = "virtualenv==20.21.1"

#: Cases whose outcome the RFC leaves to the implementation: wstest always grades them INFORMATIONAL.
#: 7.1.6 (close racing a large echo), 7.13.1/7.13.2 (close codes 5000 and 65535).
UNGRADED_CASES = frozenset({"7.1.6", "7.13.1", "7.13.2"})

OK = "OK"
INFORMATIONAL = "INFORMATIONAL"
MISSING = "MISSING"

_MARKER = "livews-autobahn-pins.txt"
_RUNNING = re.compile(r"^Running test case ID (\S+) for agent")
_WILL_RUN = re.compile(r"^Ok, will run (\d+) test cases")
_CONNECT_FAILED = re.compile(r"^Connection to .* failed")
_BEHAVIOUR_ORDER = (
    OK,
    "NON-STRICT",
    INFORMATIONAL,
    "UNIMPLEMENTED",
    "WRONG CODE",
    "UNCLEAN",
    "FAILED BY CLIENT",
    "FAILED",
    MISSING,
)


class HarnessError(Exception):
    """The suite could not be run or read; says nothing about the server under test."""


# --------------------------------------------------------------------------------------------------
# the testsuite's virtualenv


def _find_python2(explicit: str | None) -> Path:
    """A Python 2.7 interpreter: ``--python2``, ``$AUTOBAHN_PYTHON2``, pyenv's 2.7.x, then PATH."""
    if explicit:
        return Path(explicit)
    candidates: list[Path] = []
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted((pyenv_root / "versions").glob("2.7*/bin/python2.7"), reverse=True)
    for name in ("python2.7", "python2"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise HarnessError(
        "no Python 2.7 found (the Autobahn testsuite is Python 2 only): install one, e.g. "
        "`pyenv install 2.7.18`, or pass --python2 / set AUTOBAHN_PYTHON2"
    )


def _pins_text() -> str:
    return "\n".join(PINS) + "\n"


def _run_logged(cmd: Sequence[str], log: TextIO, env: dict[str, str] | None = None) -> None:
    log.write(f"$ {shlex.join(str(c) for c in cmd)}\n")
    log.flush()
    result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode != 0:
        raise HarnessError(f"command failed with status {result.returncode}: {shlex.join(cmd)}")


def ensure_testsuite(venv: Path, python2: str | None = None, *, log_path: Path | None = None) -> Path:
    """Return the ``wstest`` of ``venv``, creating the virtualenv and installing ``PINS`` if needed.

    A virtualenv is reused only if it holds the marker file written after a successful install of exactly
    these pins; any other existing virtualenv at that path is rebuilt with ``--clear``. A non-empty folder
    that is not a virtualenv is never touched.
    """
    wstest = venv / "bin" / "wstest"
    marker = venv / _MARKER
    if wstest.exists() and marker.exists() and marker.read_text() == _pins_text():
        return wstest
    if venv.exists() and any(venv.iterdir()) and not (venv / "pyvenv.cfg").exists():
        raise HarnessError(f"{venv} exists and is not a virtualenv; choose another --venv")

    interpreter = _find_python2(python2)
    print(f"[autobahn] building the testsuite virtualenv {venv} from {interpreter} (about a minute)")
    log_path = log_path or Path(tempfile.gettempdir()) / "livews-autobahn-install.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    with open(log_path, "w") as log, tempfile.TemporaryDirectory(prefix="autobahn-bootstrap-") as boot:
        try:
            _run_logged(
                [sys.executable, "-m", "pip", "install", "--quiet", "--target", boot, BOOTSTRAP_VIRTUALENV],
                log,
                env,
            )
            boot_env = dict(env, PYTHONPATH=boot)
            _run_logged(
                [
                    sys.executable,
                    "-m",
                    "virtualenv",
                    "--clear",
                    "--no-periodic-update",
                    "--app-data",
                    str(venv.parent / "virtualenv-app-data"),
                    "-p",
                    str(interpreter),
                    str(venv),
                ],
                log,
                boot_env,
            )
            requirements = Path(boot) / "requirements.txt"
            requirements.write_text(_pins_text())
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-r", str(requirements)]
            _run_logged(pip, log, env)
            _run_logged([str(wstest), "--autobahnversion"], log, env)
        except HarnessError as exc:
            log.flush()
            tail = "".join(log_path.read_text().splitlines(keepends=True)[-25:])
            raise HarnessError(f"{exc}\n--- last lines of {log_path} ---\n{tail}") from None
    marker.write_text(_pins_text())
    print(f"[autobahn] testsuite installed (log: {log_path})")
    return wstest


# --------------------------------------------------------------------------------------------------
# the server under test, when we start it ourselves


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def _server(
    command: str, port: int, log_path: Path, start_timeout: float
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (``{port}`` substituted) in its own process group; yield once it accepts TCP."""
    argv = shlex.split(command.format(port=port))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # closed in finally, once the process is gone
    print(f"[autobahn] starting server: {shlex.join(argv)}")
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=REPO_ROOT,
    )
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise HarnessError(
                    f"server exited with status {proc.returncode} before listening:\n{_tail(log_path)}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"server did not listen on port {port} within {start_timeout:g}s:\n{_tail(log_path)}"
                )
            time.sleep(0.1)
        yield proc
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it is still there after 10 s."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# --------------------------------------------------------------------------------------------------
# running wstest


@dataclass
class _RunLog:
    """What wstest printed that we need: the cases it meant to run and when each one started."""

    planned: list[str] = field(default_factory=list)
    started: list[tuple[str, float]] = field(default_factory=list)
    connect_failures: list[str] = field(default_factory=list)
    planned_count: int | None = None
    finished_at: float = 0.0


def _write_spec(out: Path, url: str, agent: str, cases: list[str], exclude: list[str]) -> Path:
    spec = {
        "outdir": str(out),
        "servers": [{"agent": agent, "url": url}],
        "cases": cases,
        "exclude-cases": exclude,
        "exclude-agent-cases": {},
        "options": {"failByDrop": False},
    }
    path = out / "fuzzingclient.json"
    path.write_text(json.dumps(spec, indent=2) + "\n")
    return path


def _clear_previous_report(out: Path) -> None:
    for pattern in ("index.json", "index.html", "*_case_*.json", "*_case_*.html", "summary.json"):
        for path in out.glob(pattern):
            path.unlink()


def _run_wstest(wstest: Path, spec: Path, out: Path, timeout: float, verbose: bool) -> _RunLog:
    """Run wstest, teeing its output to ``wstest.log`` and printing one line per case group."""
    run = _RunLog()
    log_path = out / "wstest.log"
    proc = subprocess.Popen(
        [str(wstest), "-m", "fuzzingclient", "-s", str(spec)],
        cwd=out,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),  # case start times are read off its output
    )
    t0 = time.monotonic()

    def pump() -> None:
        assert proc.stdout is not None
        group = ""
        with open(log_path, "w") as log:
            for line in proc.stdout:
                log.write(line)
                line = line.rstrip("\n")
                if m := _RUNNING.match(line):
                    case_id = m.group(1)
                    run.started.append((case_id, time.monotonic()))
                    if verbose:
                        print(f"[autobahn] {time.monotonic() - t0:7.1f}s  {case_id}", flush=True)
                    elif _group(case_id) != group:
                        group = _group(case_id)
                        print(f"[autobahn] {time.monotonic() - t0:7.1f}s  group {group}.* ...", flush=True)
                elif line.startswith("Cases = "):
                    with contextlib.suppress(ValueError, SyntaxError):
                        run.planned = [str(c) for c in ast.literal_eval(line[len("Cases = ") :])]
                elif m := _WILL_RUN.match(line):
                    print(f"[autobahn] {line}", flush=True)
                    run.planned_count = int(m.group(1))
                    if run.planned_count == 0:
                        _kill_group(proc)  # with nothing to run, wstest never stops by itself
                elif _CONNECT_FAILED.match(line):
                    print(f"[autobahn] {line}", flush=True)
                    run.connect_failures.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise HarnessError(f"wstest did not finish within {timeout:g}s (see {log_path})") from None
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        reader.join(timeout=10)
    run.finished_at = time.monotonic()
    if run.planned_count == 0:
        raise HarnessError("no case matches the --cases / --exclude patterns")
    if proc.returncode != 0:
        raise HarnessError(f"wstest exited with status {proc.returncode}:\n{_tail(log_path)}")
    return run


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------------
# reading and grading the report


@dataclass(frozen=True)
class CaseResult:
    """One case as graded by wstest, plus the explanations from its own report file."""

    case_id: str
    behavior: str
    behavior_close: str
    remote_close_code: int | None = None
    duration_ms: int = 0
    result: str = ""
    result_close: str = ""
    remote_close_reason: str | None = None
    received: str = ""
    expected_ok: str = ""

    @property
    def why(self) -> str:
        """One line on what went wrong, from wstest's own words and events."""
        if "handshake was never completed" in self.result_close:
            return self.result_close
        if self.behavior == "NON-STRICT":
            return f"got {self.received}; strict OK needs {self.expected_ok}"
        if self.behavior not in (OK, INFORMATIONAL):
            if self.result.startswith("Actual events differ"):
                return f"got {self.received}; OK needs {self.expected_ok}"
            return self.result
        return self.result_close

    @property
    def strict_ok(self) -> bool:
        """OK on both counts, or INFORMATIONAL on a case the suite never grades."""
        if self.case_id in UNGRADED_CASES:
            return self.behavior == self.behavior_close == INFORMATIONAL
        return self.behavior == OK and self.behavior_close == OK


@dataclass
class Report:
    """All cases of one agent, in case order."""

    agent: str
    cases: list[CaseResult]

    @property
    def not_ok(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.strict_ok]


def _events(events: object, limit: int = 60) -> str:
    """wstest's event list, e.g. ``[["message", "Hello", false]]``, as a short readable string."""
    if not isinstance(events, list):
        return "?"
    if not events:
        return "nothing"
    parts = []
    for event in events:
        if isinstance(event, list) and event and event[0] == "message" and len(event) >= 2:
            text = str(event[1])
            parts.append(f"echo {text[:20]!r}" + ("..." if len(text) > 20 else ""))
        elif isinstance(event, list) and event:
            parts.append(" ".join(str(e) for e in event))
        else:
            parts.append(str(event))
    joined = ", ".join(parts)
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def _case_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in case_id.split("."))


def _group(case_id: str) -> str:
    return case_id.split(".", 1)[0]


def read_report(out: Path, agent: str | None = None, planned: Sequence[str] = ()) -> Report:
    """Read ``index.json`` (and the report file of every case that is not OK) from ``out``.

    Cases in ``planned`` that the report lacks come back as MISSING, so a wstest that stopped early
    can never look like a pass.
    """
    index_path = out / "index.json"
    try:
        index: dict[str, dict[str, dict[str, Any]]] = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read {index_path}: {exc}") from None
    if not index:
        raise HarnessError(f"{index_path} holds no results")
    if agent is None:
        if len(index) != 1:
            raise HarnessError(f"{index_path} has several agents {sorted(index)}; pass --agent")
        agent = next(iter(index))
    if agent not in index:
        raise HarnessError(f"{index_path} has no agent {agent!r} (has {sorted(index)})")
    cases: list[CaseResult] = []
    for case_id, entry in index[agent].items():
        result = CaseResult(
            case_id=case_id,
            behavior=str(entry.get("behavior")),
            behavior_close=str(entry.get("behaviorClose")),
            remote_close_code=entry.get("remoteCloseCode"),
            duration_ms=int(entry.get("duration") or 0),
        )
        if not result.strict_ok and entry.get("reportfile"):
            with contextlib.suppress(OSError, ValueError):
                detail = json.loads((out / str(entry["reportfile"])).read_text())
                result = dataclasses.replace(
                    result,
                    result=str(detail.get("result", "")),
                    result_close=str(detail.get("resultClose", "")),
                    remote_close_reason=detail.get("remoteCloseReason"),
                    received=_events(detail.get("received")),
                    expected_ok=_events((detail.get("expected") or {}).get(OK)),
                )
        cases.append(result)
    seen = {c.case_id for c in cases}
    cases += [CaseResult(c, MISSING, MISSING, result="not in the report") for c in planned if c not in seen]
    cases.sort(key=lambda c: _case_key(c.case_id))
    return Report(agent, cases)


def _group_wall_times(run: _RunLog | None) -> dict[str, float]:
    """Seconds from the start of a group's first case to the start of the next group's (or the end)."""
    if run is None or not run.started:
        return {}
    times: dict[str, float] = {}
    ends = [t for _, t in run.started[1:]] + [run.finished_at]
    for (case_id, start), end in zip(run.started, ends, strict=True):
        times[_group(case_id)] = times.get(_group(case_id), 0.0) + (end - start)
    return times


def _format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text table: numeric columns right-aligned, text columns left-aligned."""
    columns = range(len(header))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in columns]

    def numeric(i: int) -> bool:
        return all(re.fullmatch(r"[-0-9.]*|None", str(r[i])) for r in rows)

    right = [i > 0 and numeric(i) for i in columns]
    lines = [
        "  ".join(
            str(cell).rjust(w) if r else str(cell).ljust(w)
            for cell, w, r in zip(row, widths, right, strict=True)
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _close_text(case: CaseResult) -> str:
    if case.remote_close_code is None:
        return "none"
    reason = case.remote_close_reason or ""
    return f"{case.remote_close_code} {reason[:30]!r}" if reason else str(case.remote_close_code)


def summarize(
    report: Report, run: _RunLog | None, stream: TextIO = sys.stdout, max_rows: int | None = 40
) -> dict[str, Any]:
    """Print the tables and the not-OK list; return the same facts as a JSON-able dict."""
    groups = sorted({_group(c.case_id) for c in report.cases}, key=int)
    behaviours = [b for b in _BEHAVIOUR_ORDER if any(c.behavior == b for c in report.cases)]
    behaviours += sorted({c.behavior for c in report.cases} - set(behaviours))
    wall = _group_wall_times(run)
    rows: list[list[str]] = []
    per_group: dict[str, Any] = {}
    for g in groups:
        members = [c for c in report.cases if _group(c.case_id) == g]
        counts = Counter(c.behavior for c in members)
        close_bad = sum(1 for c in members if c.behavior_close not in (OK, INFORMATIONAL))
        seconds = wall.get(g)
        rows.append(
            [
                f"{g}.*",
                str(len(members)),
                *(str(counts.get(b, 0) or "") for b in behaviours),
                str(close_bad or ""),
                str(sum(1 for c in members if not c.strict_ok) or ""),
                f"{seconds:.1f}" if seconds is not None else "-",
            ]
        )
        per_group[g] = {
            "cases": len(members),
            "behavior": dict(counts),
            "close_not_ok": close_bad,
            "not_strict_ok": sum(1 for c in members if not c.strict_ok),
            "wall_seconds": seconds,
            "duration_ms_sum": sum(c.duration_ms for c in members),
        }
    total = Counter(c.behavior for c in report.cases)
    total_close_bad = sum(1 for c in report.cases if c.behavior_close not in (OK, INFORMATIONAL))
    total_wall = (run.finished_at - run.started[0][1]) if run and run.started else None
    rows.append(
        [
            "all",
            str(len(report.cases)),
            *(str(total.get(b, 0) or "") for b in behaviours),
            str(total_close_bad or ""),
            str(len(report.not_ok) or ""),
            f"{total_wall:.1f}" if total_wall is not None else "-",
        ]
    )
    header = ["group", "cases", *behaviours, "close!=OK", "NOT OK", "seconds"]
    print(
        f"\nAutobahn fuzzingclient results for agent {report.agent!r} (behaviour counts per group)\n",
        file=stream,
    )
    print(_format_table(header, rows), file=stream)
    close_counts = Counter(c.behavior_close for c in report.cases)
    print("\nclose behaviour: " + ", ".join(f"{k} {v}" for k, v in sorted(close_counts.items())), file=stream)

    ungraded = [c for c in report.cases if c.case_id in UNGRADED_CASES]
    if ungraded:
        print(
            "not graded by the suite (INFORMATIONAL by design): "
            + ", ".join(f"{c.case_id} (close code {c.remote_close_code})" for c in ungraded),
            file=stream,
        )
    if report.not_ok:
        print(f"\n{len(report.not_ok)} case(s) not strictly OK:\n", file=stream)
        shown = report.not_ok if max_rows is None else report.not_ok[:max_rows]
        detail_rows = [
            [
                c.case_id,
                c.behavior,
                c.behavior_close,
                _close_text(c),
                c.why[:100],
            ]
            for c in shown
        ]
        print(
            _format_table(["case", "behavior", "behaviorClose", "server's close", "why"], detail_rows),
            file=stream,
        )
        if len(shown) < len(report.not_ok):
            print(
                f"... and {len(report.not_ok) - len(shown)} more (-v lists all; all are in summary.json)",
                file=stream,
            )
    else:
        print(f"\nall {len(report.cases)} cases strictly OK", file=stream)
    return {
        "agent": report.agent,
        "cases": len(report.cases),
        "not_strict_ok": [
            {
                "case": c.case_id,
                "behavior": c.behavior,
                "behaviorClose": c.behavior_close,
                "remoteCloseCode": c.remote_close_code,
                "remoteCloseReason": c.remote_close_reason,
                "result": c.result,
                "resultClose": c.result_close,
                "received": c.received,
                "expectedOK": c.expected_ok,
            }
            for c in report.not_ok
        ],
        "groups": per_group,
        "wall_seconds": total_wall,
        "case_start_offsets": (
            [[cid, round(t - run.started[0][1], 3)] for cid, t in run.started] if run and run.started else []
        ),
    }


# --------------------------------------------------------------------------------------------------
# command line


def _split_list(values: list[str] | None, default: list[str]) -> list[str]:
    if not values:
        return default
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run the Autobahn|Testsuite fuzzingclient against an echo server and grade it strictly.",
        epilog="exit status: 0 all strictly OK, 1 some case not OK or missing, 2 harness error",
    )
    target = parser.add_argument_group("server under test (one of)")
    target.add_argument(
        "--url",
        help="WebSocket URL of a running echo server; with --server-cmd it may "
        "contain {port} (default ws://127.0.0.1:{port}/)",
    )
    target.add_argument(
        "--server-cmd",
        help='command starting an echo server on "{port}"; run.py picks a '
        "free port, waits for it to listen and stops it afterwards",
    )
    parser.add_argument(
        "--cases",
        action="append",
        help="case patterns, comma-separated or repeated (default '*'); e.g. '1.*,2.*'",
    )
    parser.add_argument("--exclude", action="append", help="case patterns to skip, e.g. '9.*,12.*,13.*'")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "reports" / "autobahn",
        help="report folder (default reports/autobahn in the repository)",
    )
    parser.add_argument(
        "--agent",
        default=None,
        help="name of the server in the report (default: livews, "
        "or the report's only agent with --report-only)",
    )
    default_venv = Path(os.environ.get("AUTOBAHN_VENV") or _user_cache() / "autobahn-venv")
    parser.add_argument(
        "--venv",
        type=Path,
        default=default_venv,
        help="testsuite virtualenv (default $AUTOBAHN_VENV, else ~/.cache/livews/autobahn-venv "
        "under $XDG_CACHE_HOME when set)",
    )
    parser.add_argument(
        "--python2",
        default=os.environ.get("AUTOBAHN_PYTHON2"),
        help="Python 2.7 used to build the virtualenv (default: pyenv's 2.7.x, then PATH)",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds wstest may run (default 3600)")
    parser.add_argument(
        "--server-start-timeout",
        type=float,
        default=30.0,
        help="seconds the server may take to listen (default 30)",
    )
    parser.add_argument("--setup-only", action="store_true", help="only make sure the testsuite is installed")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="do not run anything; grade the existing index.json in --out",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case as it starts")
    args = parser.parse_args(argv)
    if not (args.setup_only or args.report_only) and not (args.url or args.server_cmd):
        parser.error("give --url or --server-cmd")
    if args.server_cmd and "{port}" not in args.server_cmd:
        parser.error("--server-cmd must contain {port}")
    return args


def _run(args: argparse.Namespace) -> int:
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        report = read_report(out, args.agent)
        summarize(report, None, max_rows=None if args.verbose else 40)
        return 0 if not report.not_ok else 1

    wstest = ensure_testsuite(args.venv, args.python2, log_path=out / "install.log")
    if args.setup_only:
        print(f"[autobahn] wstest ready: {wstest}")
        return 0

    agent = args.agent or "livews"
    cases = _split_list(args.cases, ["*"])
    exclude = _split_list(args.exclude, [])
    _clear_previous_report(out)

    with contextlib.ExitStack() as stack:
        if args.server_cmd:
            port = _free_port()
            url = (args.url or "ws://127.0.0.1:{port}/").format(port=port)
            server = stack.enter_context(
                _server(args.server_cmd, port, out / "server.log", args.server_start_timeout)
            )
        else:
            url, server = args.url, None
        spec = _write_spec(out, url, agent, cases, exclude)
        print(f"[autobahn] wstest fuzzingclient -> {url}  cases={cases} exclude={exclude}  out={out}")
        run = _run_wstest(wstest, spec, out, args.timeout, args.verbose)
        server_died = server is not None and server.poll() is not None
    if run.connect_failures:
        raise HarnessError("wstest could not connect: " + "; ".join(run.connect_failures))
    if not run.planned:
        raise HarnessError(f"wstest selected no cases for cases={cases} exclude={exclude}")

    report = read_report(out, agent, run.planned)
    summary = summarize(report, run, max_rows=None if args.verbose else 40)
    summary.update(url=url, cases_spec=cases, exclude_spec=exclude)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"\nreport: {out / 'index.html'}   log: {out / 'wstest.log'}   summary: {out / 'summary.json'}")
    if server_died:
        print(
            f"[autobahn] the server exited during the run (status {server.returncode}); "  # type: ignore[union-attr]
            f"see {out / 'server.log'}"
        )
        return 1
    return 0 if not report.not_ok else 1


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through the cleanups: wstest and the server are stopped


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return _run(args)
    except HarnessError as exc:
        print(f"[autobahn] harness error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("[autobahn] interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
