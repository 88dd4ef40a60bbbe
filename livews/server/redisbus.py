"""The Redis bus: group messages over Redis pub/sub, membership in expiring Redis hashes.

Imported only when a ``redis://`` bus is configured (the ``livews[redis]`` extra: the ``redis`` package's
asyncio client). What it promises, and how:

- **Never blocks the loop or local delivery.** ``publish`` appends to a bounded queue that one writer task
  sends in pipelines; while Redis is unreachable (or the queue is full) a publish is dropped at once and
  counted (``bus_dropped``), and one warning per ``log_interval`` says how many.
- **At most once, in order per publisher.** One connection publishes everything in order; nothing is
  retried (a batch that fails is counted as dropped, although Redis may have delivered part of it).
  Receivers count the sequence gaps (``groups.py``).
- **Comes back by itself.** Writer, subscriber and presence reconnect with exponential backoff (``backoff``
  to ``backoff_max`` seconds, jittered) and the subscriber subscribes again. A subscriber that Redis drops
  for exceeding its output buffer limit (``client-output-buffer-limit pubsub``) comes back the same way.
  After any reconnection this node writes its whole membership again (a restarted Redis has none).
- **Presence without anyone's help.** This node's members of a group are a hash
  ``<prefix>m:<length of group>:<group>:<node>``
  whose expiry (``expiry`` seconds) the node pushes back every ``heartbeat`` seconds; a node that dies stops
  being listed by ``members()`` at most ``expiry`` seconds after its last heartbeat, by Redis alone. Node
  names are kept in the sorted set ``<prefix>nodes`` so readers know which hashes to read.

Every node subscribes to the pattern ``<prefix>g:*``, so each publish reaches every node once (a node
without members of the group drops it after counting its sequence number). Options come as URL query
parameters: ``redis://host:6379/0?heartbeat=2&expiry=6&prefix=livews:&backoff=0.1&backoff_max=5``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .bus import Member, Node

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisBus"]

_log = logging.getLogger("livews.server")

#: Options read from the URL's query, with their defaults (seconds, except prefix).
_OPTIONS = {
    "heartbeat": 2.0,
    "expiry": 6.0,
    "backoff": 0.1,
    "backoff_max": 5.0,
    "log_interval": 10.0,
    "prefix": "livews:",
}


class RedisBus:
    """A ``Bus`` over one Redis server; serves one node.

    ``max_pending`` bounds the publishes waiting for the writer (memory: that many envelopes).
    """

    def __init__(self, url: str, *, max_pending: int = 10_000, **options: Any) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        settings: dict[str, Any] = dict(_OPTIONS)
        for name, default in _OPTIONS.items():
            if name in options:
                settings[name] = options.pop(name)
            elif name in query:
                raw = query.pop(name)
                settings[name] = raw if isinstance(default, str) else float(raw)
        if options:
            raise TypeError(f"unknown RedisBus options: {sorted(options)}")
        self.url = urlunsplit(parts._replace(query=urlencode(query)))
        self.heartbeat: float = settings["heartbeat"]
        self.expiry: float = settings["expiry"]
        if self.expiry <= self.heartbeat:
            raise ValueError("the bus expiry must be longer than its heartbeat")
        self.backoff: float = settings["backoff"]
        self.backoff_max: float = settings["backoff_max"]
        self.log_interval: float = settings["log_interval"]
        self.prefix: str = settings["prefix"]
        self.max_pending = max_pending
        self._node: Node | None = None
        self._redis: Redis | None = None
        self._pending: collections.deque[tuple[str, bytes]] = collections.deque()
        self._wake = asyncio.Event()
        self._dirty = asyncio.Event()
        self._adds: dict[str, dict[str, str]] = {}
        self._removes: dict[str, set[str]] = {}
        self._written: set[str] = set()  # groups whose hash this node has written
        self._resync = True
        self._tasks: list[asyncio.Task[None]] = []
        self._up = False
        self._closed = False  # checked by every task: asyncio.wait_for may swallow a cancellation (3.11)
        self._down_since: float | None = None
        self._dropped_unlogged = 0
        self._last_drop_log = 0.0
        self.sent = 0
        self.dropped = 0
        self.reconnects = 0
        self.members_partial = 0

    # ------------------------------------------------------------------------------------ lifecycle

    async def attach(self, node: Node) -> None:
        if self._node is not None:
            raise RuntimeError("a RedisBus serves one node; give each server its own")
        try:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("the Redis bus needs the redis package: pip install 'livews[redis]'") from exc
        self._node = node
        # No retries inside redis-py: a failed command is our signal to count, back off and reconnect.
        # The connections carry the node's name, so CLIENT LIST shows which node each one serves.
        self._redis = Redis.from_url(
            self.url,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
            retry=Retry(NoBackoff(), 0),
            client_name="livews:" + "".join(c if c.isalnum() or c in "-_.:" else "_" for c in node.node),
        )
        try:
            await asyncio.wait_for(self._redis.ping(), 2.0)
            self._up = True
        except Exception as exc:
            self._went_down(exc)
        loop = asyncio.get_running_loop()
        subscribed = loop.create_future()
        self._tasks = [
            loop.create_task(self._writer(), name="livews-bus-writer"),
            loop.create_task(self._subscriber(subscribed), name="livews-bus-subscriber"),
            loop.create_task(self._presence(), name="livews-bus-presence"),
        ]
        # Wait (briefly) for the subscription, so messages published right after start are not missed.
        await asyncio.wait([subscribed], timeout=2.0)

    async def detach(self, node: Node) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)  # shutdown never hangs on the bus
        self._tasks = []
        redis = self._redis
        if redis is None:
            return
        if self._up:
            try:
                pipe = redis.pipeline(transaction=False)
                for group in self._written:
                    pipe.delete(self._members_key(group, node.node))
                pipe.zrem(self._nodes_key, node.node)
                await asyncio.wait_for(pipe.execute(), 1.0)
            except Exception:
                _log.debug("bus: could not withdraw membership at shutdown", exc_info=True)
        await redis.aclose()
        self._redis = None

    # -------------------------------------------------------------------------------------- messages

    def publish(self, node: Node, group: str, envelope: bytes) -> bool:
        if not self._up or len(self._pending) >= self.max_pending:
            self._drop(1)
            return False
        self._pending.append((self.prefix + "g:" + group, envelope))
        self._wake.set()
        return True

    async def _writer(self) -> None:
        assert self._redis is not None
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = list(self._pending)
                self._pending.clear()
                try:
                    pipe = self._redis.pipeline(transaction=False)
                    for channel, envelope in batch:
                        pipe.publish(channel, envelope)
                    await pipe.execute()
                    self.sent += len(batch)
                except Exception as exc:
                    self._drop(len(batch))
                    self._went_down(exc)  # the presence task reconnects

    async def _subscriber(self, subscribed: asyncio.Future[None]) -> None:
        assert self._redis is not None and self._node is not None
        node = self._node
        skip = len(self.prefix) + 2
        delay = self.backoff
        while not self._closed:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(self.prefix + "g:*")
                if not subscribed.done():
                    subscribed.set_result(None)
                else:
                    _log.warning("bus: subscribed again to %s", self.url)
                    self._resync = True
                    self._dirty.set()
                delay = self.backoff
                while not self._closed:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=self.heartbeat)
                    if message is not None and message["type"] == "pmessage":
                        try:
                            node.deliver(message["channel"][skip:].decode("utf-8"), message["data"])
                        except Exception:
                            _log.exception("bus: delivering a group message failed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._went_down(exc)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass
            await asyncio.sleep(_jitter(delay))
            delay = min(delay * 2, self.backoff_max)

    async def _reconnect(self) -> None:
        """Ping with backoff until Redis answers; publishes are dropped (and counted) meanwhile.

        Only the presence task calls it, so one task reconnects however many noticed the outage.
        """
        assert self._redis is not None
        delay = self.backoff
        while not self._closed:
            await asyncio.sleep(_jitter(delay))
            try:
                await asyncio.wait_for(self._redis.ping(), 2.0)
            except Exception:
                delay = min(delay * 2, self.backoff_max)
                continue
            self._came_up()
            return

    def _went_down(self, exc: BaseException) -> None:
        if self._up or self._down_since is None:
            self._down_since = time.monotonic()
            _log.warning("bus: Redis at %s unreachable (%s); cross-node messages are dropped", self.url, exc)
        self._up = False
        self._dirty.set()  # wake the presence task: it reconnects

    def _came_up(self) -> None:
        if not self._up:
            self.reconnects += 1
            down = time.monotonic() - (self._down_since or time.monotonic())
            _log.warning("bus: Redis back after %.1fs (%d cross-node publishes dropped)", down, self.dropped)
            self._flush_drop_log()
        self._up = True
        self._down_since = None
        self._resync = True
        self._dirty.set()

    def _drop(self, count: int) -> None:
        self.dropped += count
        self._dropped_unlogged += count
        if time.monotonic() - self._last_drop_log >= self.log_interval:
            self._flush_drop_log()

    def _flush_drop_log(self) -> None:
        if self._dropped_unlogged:
            _log.warning("bus: %d cross-node publishes dropped (Redis unreachable)", self._dropped_unlogged)
        self._dropped_unlogged = 0
        self._last_drop_log = time.monotonic()

    # ------------------------------------------------------------------------------------ membership

    @property
    def _nodes_key(self) -> str:
        return self.prefix + "nodes"

    def _members_key(self, group: str, node: str) -> str:
        # The group's length keeps keys apart when names contain the separator ("a:b"+"c" vs "a"+"b:c").
        return f"{self.prefix}m:{len(group)}:{group}:{node}"

    def joined(self, node: Node, group: str, member: Member) -> None:
        field = str(member.client_id)
        self._adds.setdefault(group, {})[field] = json.dumps([member.path, member.host])
        removes = self._removes.get(group)
        if removes is not None:
            removes.discard(field)
        self._dirty.set()

    def left(self, node: Node, group: str, member: Member) -> None:
        field = str(member.client_id)
        adds = self._adds.get(group)
        if adds is not None:
            adds.pop(field, None)
        self._removes.setdefault(group, set()).add(field)
        self._dirty.set()

    async def _presence(self) -> None:
        """Write membership changes as they come and push the expiry back every heartbeat."""
        assert self._redis is not None and self._node is not None
        node = self._node
        last_beat = 0.0
        while not self._closed:
            timeout = max(0.0, last_beat + self.heartbeat - time.monotonic())
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            self._dirty.clear()
            if self._closed:
                return
            if not self._up:
                await self._reconnect()
            resync, adds, removes = self._resync, self._adds, self._removes
            self._resync, self._adds, self._removes = False, {}, {}
            beat = time.monotonic() - last_beat >= self.heartbeat * 0.9
            expiry_ms = int(self.expiry * 1000)
            try:
                pipe = self._redis.pipeline(transaction=False)
                if resync:
                    local = node.local_groups()
                    for group in self._written - set(local):
                        pipe.delete(self._members_key(group, node.node))
                    for group, members in local.items():
                        key = self._members_key(group, node.node)
                        pipe.delete(key)
                        mapping = {str(m.client_id): json.dumps([m.path, m.host]) for m in members}
                        pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
                        pipe.pexpire(key, expiry_ms)
                    self._written = set(local)
                else:
                    for group, fields in removes.items():
                        if fields:
                            pipe.hdel(self._members_key(group, node.node), *fields)
                    for group, mapping in adds.items():
                        if mapping:
                            key = self._members_key(group, node.node)
                            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
                            pipe.pexpire(key, expiry_ms)
                            self._written.add(group)
                if beat or resync:
                    pipe.zadd(self._nodes_key, {node.node: time.time()})
                    # Forget names not heard of for a long time (their hashes expired long ago).
                    forgotten = time.time() - max(3600.0, 100 * self.expiry)
                    pipe.zremrangebyscore(self._nodes_key, "-inf", forgotten)
                    for group in self._written:
                        pipe.pexpire(self._members_key(group, node.node), expiry_ms)
                    last_beat = time.monotonic()
                await pipe.execute()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._resync = True
                self._went_down(exc)

    async def members(self, node: Node, group: str) -> list[Member]:
        found = node.local_members(group)
        if self._redis is None:
            return found
        try:
            raw: list[bytes] = await self._redis.zrange(self._nodes_key, 0, -1)  # type: ignore[assignment]
            names = [n.decode("utf-8") for n in raw]
            others = [n for n in names if n != node.node]
            pipe = self._redis.pipeline(transaction=False)
            for name in others:
                pipe.hgetall(self._members_key(group, name))
            results = await pipe.execute()
        except Exception as exc:
            self.members_partial += 1
            _log.debug("bus: members(%r) lists this node only: %s", group, exc)
            return found
        for name, fields in zip(others, results, strict=True):
            for client_id, value in fields.items():
                path, host = json.loads(value)
                found.append(Member(name, int(client_id), path, host))
        return found

    def stats(self) -> dict[str, Any]:
        return {
            "bus_up": self._up,
            "bus_sent": self.sent,
            "bus_dropped": self.dropped,
            "bus_reconnects": self.reconnects,
            "bus_members_partial": self.members_partial,
        }


def _jitter(delay: float) -> float:
    return delay * (0.5 + random.random() / 2)
