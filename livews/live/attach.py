"""Where attach sockets live and how both ends talk: the private runtime directory, the wire, peer checks.

A server that accepts prompts listens on a Unix domain socket ``<port>.sock`` in a directory only its user can
enter (``$XDG_RUNTIME_DIR/livews``, else ``<tempdir>/livews-<uid>``), with mode 0600; never TCP, so the only
way in is the filesystem and the kernel-checked peer credentials (``SO_PEERCRED``: the same uid, or root).
A socket left behind by a killed server refuses connections; whoever finds one removes it.

The wire is one JSON object per line each way. The prompt sends ``{"op": "run", "code": ...}``,
``{"op": "complete", "text": ...}`` and ``{"op": "interrupt"}``; the server streams ``{"out": ...}`` and
``{"err": ...}`` and ends a statement with ``{"done": true}`` (or ``{"exit": true}`` when it asked to
detach). This module knows neither servers nor prompts.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "AttachError",
    "Peer",
    "Wire",
    "live_servers",
    "peer_allowed",
    "peer_of",
    "runtime_dir",
    "socket_path",
]

_CREDS = struct.Struct("3i")  # struct ucred: pid, uid, gid


class AttachError(RuntimeError):
    """No server to attach to, several and no choice, or a runtime directory that is not private."""


def runtime_dir(create: bool = True) -> Path:
    """The per-user directory holding attach sockets, created 0700 and checked to be ours and private."""
    uid = os.getuid()
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and _private_dir(Path(base), uid):
        folder = Path(base) / "livews"
    else:
        folder = Path(tempfile.gettempdir()) / f"livews-{uid}"
    if create:
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
    if folder.exists() and not _private_dir(folder, uid):
        raise AttachError(f"{folder} is not a directory that only uid {uid} can enter; remove it")
    return folder


def _private_dir(folder: Path, uid: int) -> bool:
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == uid and not info.st_mode & 0o077


def socket_path(port: int, folder: Path | None = None) -> Path:
    """The attach socket of the server listening on ``port``."""
    return (folder or runtime_dir()) / f"{port}.sock"


@dataclass(frozen=True)
class Peer:
    """Who is at the other end of a Unix socket, as the kernel recorded it at ``connect``."""

    pid: int
    uid: int
    gid: int


def peer_of(sock: socket.socket) -> Peer:
    pid, uid, gid = _CREDS.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDS.size))
    return Peer(pid, uid, gid)


def peer_allowed(peer: Peer, own_uid: int | None = None) -> bool:
    """A prompt may attach if it runs as the server's user or as root."""
    uid = os.getuid() if own_uid is None else own_uid
    return peer.uid == uid or peer.uid == 0


def live_servers(folder: Path | None = None) -> dict[int, Path]:
    """``port -> socket`` for every server of this user accepting prompts; stale sockets are removed."""
    folder = folder or runtime_dir()
    found: dict[int, Path] = {}
    for path in sorted(folder.glob("*.sock")):
        try:
            port = int(path.stem)
        except ValueError:
            continue
        if answers(path):
            found[port] = path
    return found


def answers(path: Path) -> bool:
    """Whether a server listens on ``path``; a socket nobody listens on any more is removed."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError as exc:
        if exc.errno == errno.ECONNREFUSED:
            try:
                path.unlink()
            except OSError:
                pass
        return False
    finally:
        probe.close()
    return True


class Wire:
    """One JSON object per line over a connected socket; ``send`` is safe from several threads."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader: BinaryIO = sock.makefile("rb")
        self._lock = threading.Lock()

    def send(self, **message: Any) -> None:
        data = json.dumps(message).encode() + b"\n"
        with self._lock:
            self.sock.sendall(data)

    def receive(self) -> dict[str, Any] | None:
        """The next message, or ``None`` once the other end has gone."""
        try:
            line = self._reader.readline()
        except (OSError, ValueError):
            return None
        if not line:
            return None
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._reader.close()
        self.sock.close()
