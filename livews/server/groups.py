"""Groups: named sets of clients that a message published once reaches on every node.

A handler joins and leaves groups (``self.join``, ``self.leave``; a closed connection leaves all its groups);
``publish`` delivers to this node's members at once through ``broadcast`` (encoded once per framing) and hands
one envelope to the bus for the other nodes, which deliver it through their own ``broadcast``. Nothing here
waits on a client or on the bus.

Delivery is at most once and in order per publisher. Every envelope carries its node, the node's epoch (a
random number drawn when the node starts, so a restarted node is a new publisher) and a sequence number; a
receiver that sees a number jump counts the messages it missed (``stats()["bus_gaps"]``, ``on_gap``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .broadcast import broadcast
from .bus import Bus, Member

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Groups", "members", "publish"]

_log = logging.getLogger("livews.server")

#: magic, kind (0 text, 1 binary), epoch, sequence number, length of the node name; then name, then payload.
_HEAD = struct.Struct("!2sBQQB")
_MAGIC = b"lw"
#: Longest group name (bytes of UTF-8): bounds channel names and membership keys on the bus.
MAX_GROUP_NAME = 200

#: The groups of the servers started in this process, latest last: ``livews.publish`` uses the latest.
_running: list[Groups] = []


class Groups:
    """The groups of one node (one ``Server``) and its end of the bus."""

    def __init__(self, bus: Bus, node: str) -> None:
        encoded = node.encode("utf-8")
        if not 0 < len(encoded) < 256:
            raise ValueError(f"node name must be 1 to 255 bytes: {node!r}")
        self.bus = bus
        self._node = node
        self._node_bytes = encoded
        self._epoch = random.getrandbits(64)
        self._seq = 0
        self._groups: dict[str, dict[Client, None]] = {}
        self._joined: dict[Client, set[str]] = {}
        #: node -> (epoch, last sequence number) of the latest process publishing under that name.
        self._last: dict[bytes, tuple[int, int]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        #: Called as ``on_gap(node, missed)`` when messages from ``node`` were lost on the way.
        self.on_gap: Callable[[str, int], object] | None = None
        self.published = 0
        self.received = 0
        self.gaps = 0
        self.gap_events = 0
        self.out_of_order = 0
        self.bad_envelopes = 0

    @property
    def node(self) -> str:
        return self._node

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.bus.attach(self)
        _running.append(self)

    async def stop(self) -> None:
        if self in _running:
            _running.remove(self)
        await self.bus.detach(self)

    # ------------------------------------------------------------------------------------ membership

    def join(self, client: Client, group: str) -> None:
        """Make ``client`` a member of ``group`` (again: nothing changes)."""
        if len(group.encode("utf-8")) > MAX_GROUP_NAME:
            raise ValueError(f"group name longer than {MAX_GROUP_NAME} bytes")
        if not client.open:
            return  # a closing client would never be removed again
        members = self._groups.setdefault(group, {})
        if client in members:
            return
        members[client] = None
        self._joined.setdefault(client, set()).add(group)
        self.bus.joined(self, group, self._member(client))

    def leave(self, client: Client, group: str) -> None:
        """``client`` is no longer a member of ``group`` (it may not have been one)."""
        members = self._groups.get(group)
        if members is None or client not in members:
            return
        del members[client]
        if not members:
            del self._groups[group]
        joined = self._joined.get(client)
        if joined is not None:
            joined.discard(group)
            if not joined:
                del self._joined[client]
        self.bus.left(self, group, self._member(client))

    def forget(self, client: Client) -> None:
        """The connection ended: it leaves every group it was in."""
        for group in list(self._joined.get(client, ())):
            self.leave(client, group)

    def groups_of(self, client: Client) -> list[str]:
        return sorted(self._joined.get(client, ()))

    def _member(self, client: Client) -> Member:
        return Member(self._node, client.id, client.path, client.host)

    def local_members(self, group: str) -> list[Member]:
        return [self._member(c) for c in self._groups.get(group, ())]

    def local_groups(self) -> Mapping[str, list[Member]]:
        return {group: self.local_members(group) for group in self._groups}

    async def members(self, group: str) -> list[Member]:
        """Members of ``group`` on every node the bus reaches, sorted by node then client id."""
        return sorted(await self.bus.members(self, group))

    # -------------------------------------------------------------------------------------- messages

    def publish(self, group: str, message: str | bytes) -> int:
        """Deliver ``message`` to this node's members now and send it to the other nodes; never waits.

        Returns how many local clients it was written to.
        """
        if isinstance(message, str):
            kind, payload = 0, message.encode("utf-8")
        elif isinstance(message, (bytes, bytearray, memoryview)):
            kind, payload = 1, bytes(message)
        else:
            raise TypeError(f"publish str or bytes, not {type(message).__name__}")
        self._seq += 1
        self.published += 1
        members = self._groups.get(group)
        sent = broadcast(list(members), message) if members else 0
        head = _HEAD.pack(_MAGIC, kind, self._epoch, self._seq, len(self._node_bytes))
        self.bus.publish(self, group, b"".join((head, self._node_bytes, payload)))
        return sent

    def deliver(self, group: str, envelope: bytes) -> None:
        """An envelope from the bus: check its sequence number, deliver it to this node's members."""
        try:
            magic, kind, epoch, seq, length = _HEAD.unpack_from(envelope)
            if magic != _MAGIC:
                raise ValueError("not a livews envelope")
        except (struct.error, ValueError):
            self.bad_envelopes += 1
            return
        start = _HEAD.size + length
        node = envelope[_HEAD.size : start]
        if node == self._node_bytes and epoch == self._epoch:
            return  # our own publish, already delivered here
        seen = self._last.get(node)
        if seen is None or seen[0] != epoch:
            self._last[node] = (epoch, seq)  # a node we had not heard, or one that restarted
        else:
            last = seen[1]
            if seq <= last:
                self.out_of_order += 1
                return
            self._last[node] = (epoch, seq)
            if seq > last + 1:
                self._gap(node.decode("utf-8", "replace"), seq - last - 1)
        self.received += 1
        members = self._groups.get(group)
        if not members:
            return
        payload = envelope[start:]
        broadcast(list(members), payload.decode("utf-8") if kind == 0 else payload)

    def _gap(self, node: str, missed: int) -> None:
        self.gaps += missed
        self.gap_events += 1
        hook = self.on_gap
        if hook is not None:
            try:
                hook(node, missed)
            except Exception:
                _log.exception("on_gap hook raised")

    def stats(self) -> dict[str, Any]:
        values = {
            "groups": len(self._groups),
            "bus_published": self.published,
            "bus_received": self.received,
            "bus_gaps": self.gaps,
            "bus_out_of_order": self.out_of_order,
        }
        values.update(self.bus.stats())
        return values


def _latest() -> Groups:
    if not _running:
        raise RuntimeError("no livews server is running in this process")
    return _running[-1]


def publish(group: str, message: str | bytes) -> None:
    """Send ``message`` to every member of ``group`` on every node; never waits, callable from any thread.

    Uses the server started last in this process (``Server.publish`` names one). On the server's loop the
    local members have it when this returns; from another thread it is handed to the loop.
    """
    groups = _latest()
    loop = groups.loop
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop or loop is None:
        groups.publish(group, message)
    else:
        loop.call_soon_threadsafe(groups.publish, group, message)


async def members(group: str) -> list[Member]:
    """Members of ``group`` on every node: ``Member(node, client_id, path, host)``, sorted.

    Await it on the server's loop (in a handler) or from any other loop (it hops to the server's).
    """
    groups = _latest()
    loop = groups.loop
    if loop is None or asyncio.get_running_loop() is loop:
        return await groups.members(group)
    future = asyncio.run_coroutine_threadsafe(groups.members(group), loop)
    return await asyncio.wrap_future(future)
