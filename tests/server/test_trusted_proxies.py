"""Behind a reverse proxy: ``client.host`` and ``client.scheme`` come from forwarding headers only when the
immediate peer is a trusted proxy, and only as far back as the configured number of hops."""

from __future__ import annotations

import json

import pytest

from livews import Handler, Resource
from livews.engine.handshake import Headers
from livews.server.proxy import TrustedProxies
from livews.testing import connect, serving


class Who(Handler):
    def on_open(self) -> None:
        self.send_text(json.dumps([self.client.host, self.client.scheme]))


async def who(server, headers: dict[str, str]) -> list[str]:
    async with connect(server, "/who", headers=headers) as ws:
        return await ws.receive_json()  # type: ignore[no-any-return]


XFF = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7", "X-Forwarded-Proto": "https"}


async def test_a_trusted_proxy_gives_the_address_it_received_from_and_the_scheme() -> None:
    async with serving(Resource("/who", Who), trusted_proxies="127.0.0.1") as server:
        assert await who(server, XFF) == ["203.0.113.7", "wss"]  # not the 6.6.6.6 the client wrote itself


async def test_two_hops_reach_one_entry_further_and_no_further() -> None:
    async with serving(
        Resource("/who", Who), trusted_proxies=TrustedProxies(["127.0.0.0/8"], hops=2)
    ) as server:
        assert (await who(server, XFF))[0] == "6.6.6.6"
        three = {"X-Forwarded-For": "1.1.1.1, 6.6.6.6, 203.0.113.7"}
        assert (await who(server, three))[0] == "6.6.6.6"


async def test_forwarding_headers_from_an_untrusted_peer_or_without_proxies_are_ignored() -> None:
    for options in ({"trusted_proxies": "10.0.0.0/8"}, {}):
        async with serving(Resource("/who", Who), **options) as server:
            assert await who(server, XFF) == ["127.0.0.1", "ws"]


async def test_the_forwarded_header_wins_and_an_unknown_address_keeps_the_peer() -> None:
    async with serving(Resource("/who", Who), trusted_proxies="*") as server:
        forwarded = {"Forwarded": 'for="[2001:db8::1]:4711";proto=https', **XFF}
        assert await who(server, forwarded) == ["2001:db8::1", "wss"]
        assert await who(server, {"X-Forwarded-For": "unknown"}) == ["127.0.0.1", "ws"]


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [("10.1.2.3", True), ("::ffff:10.1.2.3", True), ("11.0.0.1", False), ("not-an-ip", False)],
)
def test_trust_is_by_address_or_network(peer: str, trusted: bool) -> None:
    assert TrustedProxies("10.0.0.0/8, ::1").trusts(peer) is trusted


def test_forwarded_elements_across_lines_count_as_one_chain() -> None:
    headers = Headers([("Forwarded", "for=6.6.6.6"), ("Forwarded", "for=192.0.2.60:80;proto=http")])
    assert TrustedProxies("*").client_of("127.0.0.1", headers) == ("192.0.2.60", "ws")
