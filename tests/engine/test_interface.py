"""Both engines, and both kinds of parsed handshake, provide the one interface the server drives.

mypy checks the signatures (``livews/engine/interface.py``); this checks at run time that every member the
interface names is there, on real objects, so the server never needs ``getattr(conn, name, default)``.
"""

from __future__ import annotations

import pytest

from livews.engine import Connection, EngineConnection, HandshakeLimits, UpgradeRequest
from livews.engine.handshake import parse_request
from livews.engine.hixie76 import Hixie76Connection
from livews.engine.hixie76 import parse_request as parse_hixie76_request
from tests.engine.test_handshake import SAMPLE
from tests.hixie76_wire import make_keys, opening_handshake


def _members(protocol: type) -> list[str]:
    return sorted(name for name in vars(protocol) if not name.startswith("_"))


def test_the_interfaces_name_what_the_server_uses() -> None:
    engine = set(_members(EngineConnection))
    assert {"supports_binary", "supports_ping", "framing_key", "receive_buffer", "fail"} <= engine
    request = set(_members(UpgradeRequest))
    assert {"path", "headers", "origin", "subprotocols", "version", "consumed"} <= request


@pytest.mark.parametrize("conn", [Connection(), Hixie76Connection()], ids=["rfc6455", "hixie76"])
def test_both_connections_have_every_member_of_the_engine_interface(conn: EngineConnection) -> None:
    missing = [name for name in _members(EngineConnection) if not hasattr(conn, name)]
    assert missing == []


def test_the_capability_flags_are_true_for_rfc6455_and_false_for_hixie76() -> None:
    assert (Connection().supports_binary, Connection().supports_ping) == (True, True)
    assert (Hixie76Connection().supports_binary, Hixie76Connection().supports_ping) == (False, False)


def test_both_parsed_requests_have_every_member_of_the_request_interface() -> None:
    rfc6455 = parse_request(SAMPLE, HandshakeLimits())
    hixie76 = parse_hixie76_request(opening_handshake(make_keys(), path="/chat"))
    for request in (rfc6455, hixie76):
        assert request is not None
        missing = [name for name in _members(UpgradeRequest) if not hasattr(request, name)]
        assert missing == []
    assert hixie76 is not None and hixie76.version == 0 and hixie76.path == "/chat"


def test_a_hixie76_request_carries_no_placeholder_for_what_the_draft_lacks() -> None:
    request = parse_hixie76_request(opening_handshake(make_keys()))
    assert not hasattr(request, "extensions") and not hasattr(request, "key")
