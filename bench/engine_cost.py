"""The engine's own cost per message, without sockets or an event loop: for instruction counts.

Feeds ``--count`` masked client frames of one kind through ``Connection.receive_data`` (one frame per read,
as one message in flight per connection arrives) and takes the events, or (``--direction out``) queues as
many server replies and takes their bytes. Run it under ``valgrind --tool=callgrind`` with two counts and
divide the difference in instructions by the difference in messages: start-up cancels out, and the figure
does not depend on what else the machine runs::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/engine_cost.py --count 2000
"""

from __future__ import annotations

import argparse
import os

from livews.engine.connection import Connection
from livews.engine.frames import encode_header
from livews.engine.masking import apply_mask

_MASK = b"\x12\x34\x56\x78"


def _masked_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame: the header with the mask bit, the key, the payload XOR the key."""
    header = bytearray(encode_header(opcode, len(payload), fin))
    header[1] |= 0x80
    return bytes(header) + _MASK + apply_mask(payload, _MASK)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument(
        "--kind",
        choices=("text64", "binary8k", "text8k-fragmented", "binary8k-split"),
        default="text64",
        help="64 B text or 8 KiB binary, one frame per read; 8 KiB UTF-8 text in 4 frames of one read; "
        "8 KiB binary in one frame arriving in 2 reads",
    )
    parser.add_argument("--direction", choices=("in", "out"), default="in")
    args = parser.parse_args()
    if args.kind == "text64":
        opcode, payload = 1, b"x" * 64
    elif args.kind == "text8k-fragmented":
        opcode, payload = 1, "é".encode() * 4096
    else:
        opcode, payload = 2, os.urandom(8192)
    conn = Connection()
    if args.direction == "in":
        if args.kind == "text8k-fragmented":
            q = len(payload) // 4 + 1  # cuts a character in two
            pieces = [payload[i : i + q] for i in range(0, len(payload), q)]
            frame = b"".join(
                _masked_frame(opcode if i == 0 else 0, piece, fin=i == len(pieces) - 1)
                for i, piece in enumerate(pieces)
            )
        else:
            frame = _masked_frame(opcode, payload)
        reads = [frame[:4000], frame[4000:]] if args.kind == "binary8k-split" else [frame]
        for _ in range(args.count):
            for read in reads:
                conn.receive_data(read)
            events = conn.events_received()
            assert len(events) == 1
    else:
        text = payload.decode() if opcode == 1 else ""
        payload = payload[:8192]
        for _ in range(args.count):
            if opcode == 1:
                conn.send_text(text)
            else:
                conn.send_binary(payload)
            out = conn.chunks_to_send()
            assert len(out) == 1


if __name__ == "__main__":
    main()
