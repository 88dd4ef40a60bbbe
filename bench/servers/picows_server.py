"""Bench server on `picows` (frame-level WSListener): echo, or broadcast by looping ``transport.send``.

    python bench/servers/picows_server.py --port P --mode echo|broadcast [--no-aiofastnet]

Settings shared with the other bench servers (see ``_common``): 16 MiB frames, no auto-ping, default asyncio
loop. picows uses its `aiofastnet` transports when that package is installed (it is a picows dependency);
--no-aiofastnet falls back to asyncio's own transports. picows works on frames: it does not reassemble
fragmented messages or check UTF-8 in text, which the other servers do, and its core API has no
permessage-deflate, so --compress answers UNSUPPORTED.
"""

from __future__ import annotations

import time

from _common import (
    BROADCAST_MESSAGE_BYTES,
    HOST,
    MAX_MESSAGE_SIZE,
    Options,
    announce_ready,
    cpu_reply,
    parse_args,
    parse_go,
    run,
    unsupported,
)
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

__all__ = ["main"]

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CLOSE = WSMsgType.CLOSE

_clients: set[WSTransport] = set()


def _closing(transport: WSTransport, frame: WSFrame) -> None:
    transport.send_close(frame.get_close_code(), frame.get_close_message())
    transport.disconnect()


class _Echo(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            transport.send(kind, frame.get_payload_as_memoryview())
        elif kind is _CLOSE:
            _closing(transport, frame)


class _Broadcaster(WSListener):
    def on_ws_connected(self, transport: WSTransport) -> None:
        _clients.add(transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        _clients.discard(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _TEXT:
            count = parse_go(frame.get_payload_as_ascii_text())
            if count is None:
                return
            started = time.process_time()
            clients = tuple(_clients)
            for _ in range(count):
                for client in clients:
                    client.send(_TEXT, BROADCAST_MESSAGE_BYTES)
            transport.send(_TEXT, cpu_reply(started).encode())
        elif kind is _CLOSE:
            _closing(transport, frame)


async def _serve(options: Options) -> None:
    listener = _Echo if options.mode == "echo" else _Broadcaster

    def factory(request: WSUpgradeRequest) -> WSListener:
        return listener()

    server = await ws_create_server(
        factory,
        HOST,
        options.port,
        max_frame_size=MAX_MESSAGE_SIZE,
        use_aiofastnet=False if "--no-aiofastnet" in options.extra else None,
    )
    announce_ready(server.sockets[0].getsockname()[1])
    await server.serve_forever()


def main() -> None:
    options = parse_args(__doc__.splitlines()[0], extra_flags=("--no-aiofastnet",))
    if options.compress:
        unsupported("picows core API has no permessage-deflate")
    run(_serve(options), options.loop)


if __name__ == "__main__":
    main()
