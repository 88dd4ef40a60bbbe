"""Fuzz one engine target for a bounded time, coverage-guided with atheris when it is installed.

    python bench/fuzz.py --target frames --seconds 120
    python bench/fuzz.py --target handshake --seconds 60 --mutate     # without atheris

The targets are in ``tests/fuzz/targets.py``: ``frames`` (bytes after a handshake, any limits, with or
without permessage-deflate, any split, with or without ``receive_buffer``), ``handshake`` (a request head in
any split) and ``deflate`` (a compressed message under a budget, and the extension offer parser). A crash
(an exception other than the engine's refusal, or a broken invariant) or an input slower than ``--slow``
seconds (of CPU for the mutation fuzzer; libFuzzer's ``-timeout`` for atheris) is written to
``tests/fuzz/corpus/<target>/``, where ``tests/fuzz/test_corpus.py`` replays it from then on: keep it, with
a test that counts what it made expensive. atheris runs under libFuzzer and stops at the first crash; the
mutation fuzzer keeps going and reports every one. The working corpus (inputs that
found new coverage) lives in a temporary folder, seeded with valid streams, and is thrown away.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from loadgen import client_frame, deflate_message

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "tests" / "fuzz" / "corpus"


def seeds(target: str) -> list[bytes]:
    """Valid inputs to start from: the fuzzer mutates these to reach the deep branches quickly."""
    if target == "handshake":
        head = (
            b"GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://a\r\n"
            b"Sec-WebSocket-Protocol: chat, superchat\r\n"
            b'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; x="a\\"b", y\r\n\r\n'
        )
        return [bytes((o, s)) + head for o in (0, 1, 2, 3) for s in (0, 5)]
    if target == "deflate":
        text = b'{"id": 1, "name": "livews", "tags": ["a", "b"]}' * 20
        starts = [bytes((o, 9)) + deflate_message(text) for o in (0, 1, 2, 4, 0x31)]
        return [*starts, b"\x00\x00" + b"\x03\x00" * 8]
    stream = (
        client_frame(1, "héllo \U0001f600".encode())
        + client_frame(2, bytes(range(200)))
        + client_frame(1, b"frag", fin=False)
        + client_frame(9, b"ping")
        + client_frame(0, b"ment")
        + client_frame(10, b"pong")
        + client_frame(2, deflate_message(b"compressed " * 30), rsv1=True)
        + client_frame(8, b"\x03\xe8bye")
    )
    return [bytes((o, s)) + stream for o in (0, 1, 3, 16, 17) for s in (0, 1, 0x23)]


def _keep(target: str, data: bytes, why: str) -> Path:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{why}-{hashlib.sha1(data).hexdigest()[:16]}"
    path.write_bytes(data)
    return path


def _mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(7)
        pos = rng.randrange(len(out) + 1)
        if kind == 0 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1 and out:
            out[min(pos, len(out) - 1)] = rng.choice((0, 0x7F, 0x80, 0xFF, 126, 127, 13, 10, 0x2C))
        elif kind == 2:
            out[pos:pos] = rng.randbytes(rng.randint(1, 16))
        elif kind == 3 and out:
            del out[pos : pos + rng.randint(1, 16)]
        elif kind == 4 and out:
            piece = out[pos : pos + rng.randint(1, 64)]
            out[pos:pos] = piece * rng.randint(1, 64)  # repetition finds the slow paths
        elif kind == 5:
            other = rng.choice(pool)
            cut = rng.randrange(len(other) + 1)
            out[pos:] = other[cut:]
        else:
            out[:2] = rng.randbytes(2)  # the option bytes
    return bytes(out[: 1 << 16])


def _run_mutation(target: str, fn: Callable[[bytes], None], seconds: float, slow: float, seed: int) -> int:
    rng = random.Random(seed)
    pool = seeds(target)
    found = 0
    runs = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = _mutate(rng.choice(pool), rng, pool)
        start = time.process_time()  # CPU, not wall time: a busy machine does not make an input slow
        try:
            fn(data)
        except Exception:
            found += 1
            path = _keep(target, data, "crash")
            print(f"crash kept in {path.relative_to(ROOT)}:\n{traceback.format_exc()}", flush=True)
        else:
            spent = time.process_time() - start
            if spent > slow:
                found += 1
                path = _keep(target, data, "slow")
                print(f"slow input ({spent:.3f} s CPU) kept in {path.relative_to(ROOT)}")
            elif rng.random() < 0.02 and len(pool) < 2000:
                pool.append(data)
        runs += 1
    print(f"{target}: {runs} inputs in {seconds:.0f} s (mutation fuzzer), {found} kept")
    return 1 if found else 0


def _run_atheris(target: str, seconds: float, slow: float, max_len: int) -> int:
    import atheris  # type: ignore[import-not-found,unused-ignore]

    with atheris.instrument_imports():
        from tests.fuzz.targets import TARGETS

    fn = TARGETS[target]
    work = Path(tempfile.mkdtemp(prefix=f"livews-fuzz-{target}-"))
    for i, data in enumerate(seeds(target)):
        (work / f"seed-{i}").write_bytes(data)
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.argv[0],
        str(work),
        f"-max_total_time={int(seconds)}",
        f"-timeout={max(1, int(slow))}",
        f"-max_len={max_len}",
        f"-artifact_prefix={folder}/",
        "-print_final_stats=1",
    ]
    atheris.Setup(argv, fn)
    atheris.Fuzz()  # exits the process: libFuzzer reports and writes crash-*/timeout-* into the corpus
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("frames", "handshake", "deflate"), required=True)
    parser.add_argument("--seconds", type=float, default=60, help="how long to fuzz (default 60)")
    parser.add_argument("--slow", type=float, default=1.0, help="an input slower than this is kept (seconds)")
    parser.add_argument("--max-len", type=int, default=16384, help="largest input atheris tries")
    parser.add_argument("--mutate", action="store_true", help="the mutation fuzzer even if atheris exists")
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "big"))
    args = parser.parse_args()
    if not args.mutate:
        try:
            import atheris  # type: ignore[import-not-found,unused-ignore] # noqa: F401
        except ImportError:
            print("atheris is not installed (pip install atheris): using the mutation fuzzer")
        else:
            return _run_atheris(args.target, args.seconds, args.slow, args.max_len)
    from tests.fuzz.targets import TARGETS

    print(f"seed {args.seed}")
    return _run_mutation(args.target, TARGETS[args.target], args.seconds, args.slow, args.seed)


if __name__ == "__main__":
    sys.exit(main())
