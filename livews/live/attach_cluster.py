"""One prompt over every worker of ``serve --workers N``: each statement runs on all of them, output labelled.

Each worker accepts prompts on its own socket ``<port>.w<I>.sock`` in the private runtime directory (the
supervisor serves nothing and relays nothing; it only keeps the workers running). ``attach`` on such a port
connects to every worker socket and sends each statement to all of them; each worker runs it in its own
session namespace, exactly as a single-process attach would, and the prompt prints what each printed with a
``[wI]`` label on every line, worker by worker. So ``clients()`` lists every worker's clients (the label is
the worker column), ``broadcast``, ``stats()`` and ``reload()`` reach and report every worker, and a class
typed at the prompt is defined and registered on every worker from the same text (its source is the
statement itself, so nothing has to recover it with ``inspect``).

Client ids are per worker: in a cluster ``send``/``kick`` take ``"w2:7"`` (worker 2's client 7, as in
``clients()``) and act on that worker only; the other workers skip the statement silently. A plain id is
refused there, because it names a different client on each worker. ``worker`` holds the worker's index,
for statements meant for one of them (``if worker == 1: ...``).

What this cannot do, it says in one line instead of doing it on some workers only: a worker that does not
answer (dead, restarting) is named and the statement ran on the others; a worker that comes back is a new
process without the names and classes typed before it came back, and the prompt says so when it rejoins.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .attach import AttachError, answers, runtime_dir
from .attach_client import _Connection

if TYPE_CHECKING:
    from .handle import LiveServer

__all__ = ["ClusterPrompt", "cluster_helpers", "cluster_sockets", "worker_index", "worker_socket"]

_WORKER_SOCKET = re.compile(r"^(\d+)\.w(\d+)\.sock$")
_CLIENT = re.compile(r"^w(\d+):(\d+)$")


def worker_index() -> int | None:
    """This process's worker index under the supervisor (``LIVEWS_WORKER``), or ``None`` outside one."""
    value = os.environ.get("LIVEWS_WORKER", "")
    return int(value) if value.isdigit() else None


def worker_socket(port: int, index: int, folder: Path | None = None) -> Path:
    """The attach socket of worker ``index`` of the cluster serving ``port``."""
    return (folder or runtime_dir()) / f"{port}.w{index}.sock"


def cluster_sockets(folder: Path | None = None) -> dict[int, dict[int, Path]]:
    """``port -> {worker index -> socket}`` for every cluster of this user with a worker answering."""
    folder = folder or runtime_dir()
    found: dict[int, dict[int, Path]] = {}
    for path in sorted(folder.glob("*.w*.sock")):
        match = _WORKER_SOCKET.match(path.name)
        if match and answers(path):
            found.setdefault(int(match.group(1)), {})[int(match.group(2))] = path
    return found


def cluster_helpers(namespace: dict[str, Any], server: LiveServer, index: int) -> None:
    """Make an attached session's ``send``/``kick`` take cluster ids (``"w2:7"``) and add ``worker``."""
    local_kick = namespace["kick"]

    def mine(client: Any) -> tuple[bool, Any]:
        """Whether ``client`` is on this worker, and how to name it here."""
        if isinstance(client, str):
            match = _CLIENT.match(client)
            if match is None:
                raise ValueError(f"name a client as 'w<worker>:<id>' (as in clients()), not {client!r}")
            return int(match.group(1)) == index, int(match.group(2))
        if isinstance(client, int) and not isinstance(client, bool):
            raise ValueError(
                f"a client id is per worker here: name it 'w<worker>:{client}' (the worker as in clients())"
            )
        return True, client

    def send(client: Any, message: str | bytes) -> None:
        """Send to one client: ``"w2:7"`` (worker 2's client 7) or a ``Client`` of this worker."""
        here, local = mine(client)
        if here:
            server.send(local, message)

    def kick(client: Any, code: int | None = None, reason: str = "") -> None:
        """Close one client: ``"w2:7"`` or a ``Client`` of this worker (a held one with 1011)."""
        here, local = mine(client)
        if here:
            local_kick(local, code, reason)

    namespace.update(send=send, kick=kick, worker=index)


class ClusterPrompt(_Connection):
    """The prompt's ends of every worker socket, used by the prompt as one connection (module docstring)."""

    def __init__(self, port: int, folder: Path | None = None) -> None:
        self.port = port
        self.folder = folder or runtime_dir()
        self.members: dict[int, _Connection] = {}
        self.known: set[int] = set()
        self.gone = False
        self.abandoned = False
        self._join(announce=False)
        if not self.members:
            raise AttachError(f"no worker of the cluster on port {port} accepts prompts")
        first = self.members[min(self.members)]
        workers = " ".join(f"w{i}" for i in sorted(self.members))
        self.banner = (
            f"cluster on port {port}: workers {workers}; each statement runs on every worker, its output "
            "labelled [wI]; client ids are 'wI:id'\n" + first.banner
        )
        self.wire = first.wire

    def _join(self, announce: bool = True) -> None:
        """Connect to worker sockets not connected yet; a worker seen before is a new process now."""
        for index, path in sorted(cluster_sockets(self.folder).get(self.port, {}).items()):
            if index in self.members:
                continue
            try:
                self.members[index] = _Connection(path)
            except AttachError:
                continue
            if announce and index in self.known:
                print(
                    f"[w{index}] rejoined as a new process: names and classes typed before are not on it "
                    "(type them again to have them there)",
                    flush=True,
                )
            elif announce:
                print(f"[w{index}] joined: names and classes typed before are not on it", flush=True)
            self.known.add(index)

    def run(self, source: str) -> bool:
        """Run ``source`` on every worker, printing their output labelled; ``False`` ends the prompt."""
        self._join()
        sent: list[int] = []
        for index, member in sorted(self.members.items()):
            try:
                member.wire.send(op="run", code=source)
                sent.append(index)
            except OSError:
                self._lost(index)
        missing = sorted(self.known - set(self.members))
        leave = False
        failed: list[int] = []
        interrupted = False
        for index in sent:
            outcome = self._collect(index, interrupted)
            if outcome == "lost":
                missing.append(index)
            elif outcome == "exit":
                leave = True
            elif outcome == "error":
                failed.append(index)
            elif outcome == "abandoned":
                self.abandoned = True
                return False
            interrupted = interrupted or outcome == "interrupted"
        ran = [i for i in sent if i not in missing]
        if missing and ran:
            print(
                f"not on {_names(missing)} (not answering): this statement ran on {_names(ran)} only",
                flush=True,
            )
        if failed and len(failed) < len(ran):
            print(f"an error on {_names(failed)} only (the others ran it without one)", flush=True)
        if not self.members:
            self.gone = True
            return False
        return not leave

    def _collect(self, index: int, interrupted: bool) -> str:
        """Print one worker's answer to the statement, labelled; how it ended."""
        member = self.members[index]
        label = f"[w{index}] "
        pending = {"out": "", "err": ""}
        errored = False
        outcome = ""
        while not outcome:
            try:
                message = member._next()  # the connection's reader thread queues what the worker sends
            except KeyboardInterrupt:
                if interrupted:
                    return "abandoned"
                interrupted = True
                for other in self.members.values():
                    try:
                        other.wire.send(op="interrupt")
                    except OSError:
                        pass
                continue
            if message is None:
                self._lost(index)
                outcome = "lost"
            elif "out" in message or "err" in message:
                kind = "out" if "out" in message else "err"
                errored = errored or kind == "err"
                text = pending[kind] + str(message[kind])
                *lines, pending[kind] = text.split("\n")
                stream = sys.stdout if kind == "out" else sys.stderr
                for line in lines:
                    stream.write(label + line + "\n")
                stream.flush()
            elif message.get("input"):
                member._answer()  # a statement reading a line there (pdb under pm()): from this terminal
            elif message.get("exit"):
                outcome = "exit"
            elif message.get("done"):
                outcome = "error" if errored else "done"
        for kind, rest in pending.items():
            if rest:
                (sys.stdout if kind == "out" else sys.stderr).write(label + rest + "\n")
        sys.stdout.flush()
        return "interrupted" if interrupted and outcome == "done" else outcome

    def _lost(self, index: int) -> None:
        member = self.members.pop(index, None)
        if member is not None:
            member.close()

    def complete(self, text: str) -> list[str]:
        """What completes ``text`` on any worker (a name may be defined on some only), each word once."""
        words: dict[str, None] = {}
        for index in sorted(self.members):
            words.update(dict.fromkeys(self.members[index].complete(text)))
        return list(words)

    def close(self) -> None:
        for index in list(self.members):
            self._lost(index)


def _names(indexes: list[int]) -> str:
    return ", ".join(f"w{i}" for i in sorted(indexes))
