"""The bus: how a node's group messages and membership reach the other nodes, and the in-process backend.

A node is one server (one process, or one ``Server`` in a process). Groups live on the node (``groups.py``);
the bus only carries what must cross nodes: envelopes (bytes made once by the publisher) and membership, so
that ``members()`` can list everyone. A bus never waits on a client and never blocks the loop: ``publish``
and the membership notes are plain calls that hand work to the backend and return.

Two backends: ``InProcessBus`` (here, the default, no dependency: nodes in the same process and loop) and
``RedisBus`` (``redisbus.py``, imported only when a ``redis://`` URL is configured). Delivery through any bus
is at most once and in order per publisher; ``groups.py`` counts the gaps.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Bus", "InProcessBus", "Member", "Node", "default_node_name", "open_bus"]


class Member(NamedTuple):
    """One member of a group, as ``members()`` lists it."""

    node: str
    client_id: int
    path: str
    host: str


class Node(Protocol):
    """What a bus sees of the node it serves (``groups.Groups``)."""

    @property
    def node(self) -> str: ...

    def deliver(self, group: str, envelope: bytes) -> None:
        """An envelope another node published to ``group``: deliver it to this node's members."""

    def local_members(self, group: str) -> list[Member]:
        """This node's members of ``group``."""

    def local_groups(self) -> Mapping[str, list[Member]]:
        """Every group with members on this node, and them (to write membership again after an outage)."""


class Bus(Protocol):
    """A transport between nodes. Every method is called on the node's event loop."""

    async def attach(self, node: Node) -> None:
        """Start carrying ``node``'s messages (connect, subscribe); must not fail when the backend is down."""

    async def detach(self, node: Node) -> None:
        """Stop: withdraw ``node``'s membership where possible and release connections."""

    def publish(self, node: Node, group: str, envelope: bytes) -> bool:
        """Send ``envelope`` to the other nodes; ``False`` if it was dropped (counted by the bus)."""

    def joined(self, node: Node, group: str, member: Member) -> None:
        """``member`` of ``node`` joined ``group``."""

    def left(self, node: Node, group: str, member: Member) -> None:
        """``member`` of ``node`` left ``group``."""

    async def members(self, node: Node, group: str) -> list[Member]:
        """The members of ``group`` on every node the bus can reach (this node's included)."""

    def stats(self) -> dict[str, Any]:
        """Counters of this bus, flat ``name: number`` pairs."""


class InProcessBus:
    """Nodes in one process and one event loop: share one instance between servers to join their groups.

    Each ``Server`` without a ``bus`` gets its own instance, so groups then reach that server's clients only.
    Delivery to the other nodes is scheduled with ``call_soon``: the publisher never runs their sends.
    """

    def __init__(self) -> None:
        self._nodes: list[Node] = []

    async def attach(self, node: Node) -> None:
        self._nodes.append(node)

    async def detach(self, node: Node) -> None:
        if node in self._nodes:
            self._nodes.remove(node)

    def publish(self, node: Node, group: str, envelope: bytes) -> bool:
        others = [n for n in self._nodes if n is not node]
        if others:
            loop = asyncio.get_running_loop()
            for other in others:
                loop.call_soon(other.deliver, group, envelope)
        return True

    def joined(self, node: Node, group: str, member: Member) -> None:
        pass

    def left(self, node: Node, group: str, member: Member) -> None:
        pass

    async def members(self, node: Node, group: str) -> list[Member]:
        return [m for n in self._nodes for m in n.local_members(group)]

    def stats(self) -> dict[str, Any]:
        return {}


def default_node_name() -> str:
    """``host-pid``: distinct for every process on every machine that has a distinct host name."""
    return f"{socket.gethostname()}-{os.getpid()}"


def open_bus(spec: Bus | str | None) -> Bus:
    """A bus from a ``Server(bus=...)`` value: ``None`` (a private in-process bus), a URL, or a bus."""
    if spec is None:
        return InProcessBus()
    if isinstance(spec, str):
        if spec.startswith(("redis://", "rediss://", "unix://")):
            from .redisbus import RedisBus  # the optional extra livews[redis], loaded only when asked for

            return RedisBus(spec)
        raise ValueError(f"unknown bus URL {spec!r} (expected redis://host:port/db)")
    return spec
