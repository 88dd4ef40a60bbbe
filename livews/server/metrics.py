"""What the server counts, for ``Server.stats()`` and for Prometheus at ``/metrics``.

Nothing here runs per message. Per-connection counters already live on each client (``messages_in``...);
``Figures`` adds what happens once per connection or per event that is already rare (a handshake, a close, a
refusal, a dropped slow client, a broadcast, a reload), and folds a closed client's counters into its
resource's totals. Figures by resource are keyed by the resource's path as declared, so a pattern
(``/rooms/{room}``) is one series, not one per room. The Prometheus text is built from these figures when it
is scraped (``prometheus_client``, installed by ``livews[metrics]`` and imported only then).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.codes import CloseCode

if TYPE_CHECKING:
    from .client import Client
    from .server import Server

__all__ = ["Figures", "ResourceFigures", "prometheus_text"]


@dataclass
class ResourceFigures:
    """Totals of one resource path: connections opened, and the counters of its closed connections."""

    connections_total: int = 0
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class Figures:
    """The server's counters beyond each client's own; every method runs on the server loop."""

    def __init__(self) -> None:
        self.by_resource: dict[str, ResourceFigures] = {}
        self.handshake_refusals: Counter[int] = Counter()
        self.http_responses: Counter[int] = Counter()
        self.closes: Counter[int] = Counter()
        self.write_buffer_drops = 0
        self.broadcasts = 0
        self.broadcast_recipients = 0
        self.reloads = 0
        self.reloads_failed = 0

    def opened(self, client: Client) -> None:
        figures = self.by_resource.get(client.resource.path)
        if figures is None:
            figures = self.by_resource[client.resource.path] = ResourceFigures()
        figures.connections_total += 1

    def closed(self, client: Client) -> None:
        self.closes[client.close_code or CloseCode.ABNORMAL] += 1
        figures = self.by_resource.get(client.resource.path)
        if figures is not None:
            figures.messages_in += client.messages_in
            figures.messages_out += client.messages_out
            figures.bytes_in += client.bytes_in
            figures.bytes_out += client.bytes_out

    def broadcast(self, recipients: int) -> None:
        self.broadcasts += 1
        self.broadcast_recipients += recipients

    def reloaded(self, kind: str, ok: bool) -> None:
        """A reload report (counted by the live layer, the only one that reloads): a first load is none."""
        if ok and kind in ("reload", "register"):
            self.reloads += 1
        elif not ok:
            self.reloads_failed += 1

    def resources(self, server: Server) -> dict[str, dict[str, int]]:
        """Per resource path: connections open and total, messages and bytes in and out since start."""
        table = {path: {"open": 0, **vars(figures)} for path, figures in sorted(self.by_resource.items())}
        for client in server._live():
            row = table.get(client.resource.path)
            if row is None:
                continue
            row["open"] += 1
            row["messages_in"] += client.messages_in
            row["messages_out"] += client.messages_out
            row["bytes_in"] += client.bytes_in
            row["bytes_out"] += client.bytes_out
        return table


def prometheus_text(server: Server) -> tuple[bytes, str]:
    """The server's figures in the Prometheus text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(server))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Collector:
    """A prometheus_client collector that reads the figures at scrape time."""

    def __init__(self, server: Server) -> None:
        self._server = server

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        server = self._server
        figures = server.figures
        resources = figures.resources(server)
        open_ = GaugeMetricFamily("livews_connections_open", "Open connections", labels=["resource"])
        per_resource = {
            "connections_total": CounterMetricFamily(
                "livews_connections", "Connections opened", labels=["resource"]
            ),
            "messages_in": CounterMetricFamily(
                "livews_messages_received", "Messages received", labels=["resource"]
            ),
            "messages_out": CounterMetricFamily("livews_messages_sent", "Messages sent", labels=["resource"]),
            "bytes_in": CounterMetricFamily("livews_received_bytes", "Bytes received", labels=["resource"]),
            "bytes_out": CounterMetricFamily("livews_sent_bytes", "Bytes sent", labels=["resource"]),
        }
        for path, row in resources.items():
            open_.add_metric([path], row["open"])
            for key, family in per_resource.items():
                family.add_metric([path], row[key])
        yield open_
        yield from per_resource.values()
        yield _by_label(
            "livews_handshake_refusals", "Handshakes refused", "status", figures.handshake_refusals
        )
        yield _by_label("livews_http_responses", "Plain HTTP responses", "status", figures.http_responses)
        yield _by_label("livews_closes", "Connections closed", "code", figures.closes)
        for name, doc, value in (
            ("livews_handler_errors", "Handler methods that raised", server.handler_errors),
            ("livews_reloads", "Successful reloads", figures.reloads),
            ("livews_reloads_failed", "Failed reloads", figures.reloads_failed),
            ("livews_broadcasts", "Broadcast calls", figures.broadcasts),
            ("livews_broadcast_recipients", "Clients written to by broadcasts", figures.broadcast_recipients),
            ("livews_write_buffer_drops", "Clients closed for not reading", figures.write_buffer_drops),
        ):
            yield CounterMetricFamily(name, doc, value=value)


def _by_label(name: str, doc: str, label: str, counts: Counter[int]) -> Any:
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, doc, labels=[label])
    for key, value in sorted(counts.items()):
        family.add_metric([str(key)], value)
    return family
