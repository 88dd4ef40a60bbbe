"""RFC 7692 §5 and §7.1: answering a client's Sec-WebSocket-Extensions offer.

We accept the first acceptable permessage-deflate offer and state exactly what was agreed; an offer we cannot
accept is skipped; a header we cannot parse, or one with no acceptable offer, is declined with (None, None).
"""

from __future__ import annotations

import pytest

from livews.engine.deflate import DeflateConfig, PerMessageDeflate, _parse_extensions, negotiate

#: DeflateConfig with no limit of its own, so answers show only what the offer asked for.
OPEN = DeflateConfig(server_max_window_bits=15, client_max_window_bits=None)


def answer(header: str | None, config: DeflateConfig = OPEN) -> str | None:
    response, codec = negotiate(header, config)
    assert (response is None) == (codec is None)
    return response


def codec_for(header: str, config: DeflateConfig = OPEN) -> PerMessageDeflate:
    response, codec = negotiate(header, config)
    assert response is not None and codec is not None, header
    return codec


# ------------------------------------------------------------------ accepted / declined


def test_no_header_declines() -> None:
    assert negotiate(None, DeflateConfig()) == (None, None)
    assert negotiate("", DeflateConfig()) == (None, None)


def test_disabled_config_declines_a_valid_offer() -> None:
    assert negotiate("permessage-deflate", DeflateConfig(enabled=False)) == (None, None)


def test_other_extensions_alone_are_declined() -> None:
    assert answer("x-webkit-deflate-frame") is None
    assert answer("permessage-bzip2; level=3") is None


def test_bare_offer_is_accepted_with_a_bare_answer_when_nothing_is_limited() -> None:
    assert answer("permessage-deflate") == "permessage-deflate"
    codec = codec_for("permessage-deflate")
    assert codec.server_max_window_bits == 15
    assert codec.client_max_window_bits == 15
    assert not codec.server_no_context_takeover and not codec.client_no_context_takeover


def test_default_config_states_its_smaller_server_window_unasked() -> None:
    # §7.1.2.1: the server may include server_max_window_bits although the offer did not.
    response, codec = negotiate("permessage-deflate", DeflateConfig())
    assert response == "permessage-deflate; server_max_window_bits=12"
    assert codec is not None and codec.server_max_window_bits == 12


def test_browser_offer_gets_both_default_windows() -> None:
    # Chrome and Firefox send this exact offer.
    response, codec = negotiate("permessage-deflate; client_max_window_bits", DeflateConfig())
    assert response == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    assert codec is not None and codec.client_max_window_bits == 12


def test_websockets_default_client_offer_is_accepted() -> None:
    permessage_deflate = pytest.importorskip("websockets.extensions.permessage_deflate")
    headers = pytest.importorskip("websockets.headers")
    factory = permessage_deflate.ClientPerMessageDeflateFactory(compress_settings={"memLevel": 5})
    offer = headers.build_extension([(factory.name, factory.get_request_params())])
    response, codec = negotiate(offer, DeflateConfig())
    assert response == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    assert codec is not None


# ------------------------------------------------------------------ each parameter


def test_server_no_context_takeover_requested_is_confirmed() -> None:
    assert answer("permessage-deflate; server_no_context_takeover") == (
        "permessage-deflate; server_no_context_takeover"
    )
    assert codec_for("permessage-deflate; server_no_context_takeover").server_no_context_takeover


def test_server_no_context_takeover_configured_is_stated_unasked() -> None:
    config = DeflateConfig(server_max_window_bits=15, server_no_context_takeover=True)
    assert answer("permessage-deflate", config) == "permessage-deflate; server_no_context_takeover"


def test_client_no_context_takeover_offered_is_confirmed() -> None:
    # Confirming it binds the client (§7.1.1.2) and lets us drop the inflater between messages.
    assert answer("permessage-deflate; client_no_context_takeover") == (
        "permessage-deflate; client_no_context_takeover"
    )
    assert codec_for("permessage-deflate; client_no_context_takeover").client_no_context_takeover


def test_client_no_context_takeover_configured_is_stated_unasked() -> None:
    config = DeflateConfig(server_max_window_bits=15, client_no_context_takeover=True)
    assert answer("permessage-deflate", config) == "permessage-deflate; client_no_context_takeover"


@pytest.mark.parametrize("bits", range(9, 16))
def test_server_max_window_bits_offered_is_answered_with_that_value(bits: int) -> None:
    # §7.1.2.1: accepting the offer means answering the parameter with the same or a smaller value.
    assert answer(f"permessage-deflate; server_max_window_bits={bits}") == (
        f"permessage-deflate; server_max_window_bits={bits}"
    )
    assert codec_for(f"permessage-deflate; server_max_window_bits={bits}").server_max_window_bits == bits


def test_server_max_window_bits_answer_is_the_smaller_of_offer_and_config() -> None:
    config = DeflateConfig(server_max_window_bits=11)
    assert answer("permessage-deflate; server_max_window_bits=13", config) == (
        "permessage-deflate; server_max_window_bits=11"
    )
    assert answer("permessage-deflate; server_max_window_bits=10", config) == (
        "permessage-deflate; server_max_window_bits=10"
    )


def test_server_max_window_bits_8_makes_the_offer_unacceptable_because_zlib_cannot_compress_with_it() -> None:
    assert answer("permessage-deflate; server_max_window_bits=8") is None


def test_server_max_window_bits_8_offer_falls_back_to_the_next_offer() -> None:
    header = "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"
    assert answer(header) == "permessage-deflate; server_max_window_bits=9"


def test_server_max_window_bits_without_value_makes_the_offer_unacceptable() -> None:
    assert answer("permessage-deflate; server_max_window_bits") is None


def test_client_max_window_bits_without_value_and_no_limit_is_left_out_of_the_answer() -> None:
    assert answer("permessage-deflate; client_max_window_bits") == "permessage-deflate"
    assert codec_for("permessage-deflate; client_max_window_bits").client_max_window_bits == 15


def test_client_max_window_bits_offered_value_is_stated_and_used() -> None:
    assert answer("permessage-deflate; client_max_window_bits=10") == (
        "permessage-deflate; client_max_window_bits=10"
    )
    assert codec_for("permessage-deflate; client_max_window_bits=10").client_max_window_bits == 10


def test_client_max_window_bits_answer_is_the_smaller_of_offer_and_config() -> None:
    config = DeflateConfig(server_max_window_bits=15, client_max_window_bits=11)
    assert answer("permessage-deflate; client_max_window_bits=13", config) == (
        "permessage-deflate; client_max_window_bits=11"
    )
    assert answer("permessage-deflate; client_max_window_bits=9", config) == (
        "permessage-deflate; client_max_window_bits=9"
    )
    assert answer("permessage-deflate; client_max_window_bits", config) == (
        "permessage-deflate; client_max_window_bits=11"
    )


def test_client_max_window_bits_is_never_sent_to_a_client_that_did_not_offer_it() -> None:
    # §7.1.2.2: MUST NOT include it; the client may then use 15 bits and we inflate with 15.
    config = DeflateConfig(server_max_window_bits=15, client_max_window_bits=9)
    assert answer("permessage-deflate", config) == "permessage-deflate"
    assert codec_for("permessage-deflate", config).client_max_window_bits == 15


def test_client_max_window_bits_8_is_accepted() -> None:
    # Only our compressor cannot use 8 bits; inflating a 256-byte-window stream is fine.
    assert answer("permessage-deflate; client_max_window_bits=8") == (
        "permessage-deflate; client_max_window_bits=8"
    )


@pytest.mark.parametrize("name", ["server_max_window_bits", "client_max_window_bits"])
@pytest.mark.parametrize(
    "value", ["7", "16", "0", "08", "+9", "-9", "9.0", "1e1", "0x9", "nine", '""', '" 9"']
)
def test_window_bits_outside_8_to_15_or_not_plain_decimal_make_the_offer_unacceptable(
    name: str, value: str
) -> None:
    assert answer(f"permessage-deflate; {name}={value}") is None


@pytest.mark.parametrize("name", ["server_no_context_takeover", "client_no_context_takeover"])
@pytest.mark.parametrize("value", ["true", "1", '""', '"x"'])
def test_no_context_takeover_with_a_value_makes_the_offer_unacceptable(name: str, value: str) -> None:
    assert answer(f"permessage-deflate; {name}={value}") is None


@pytest.mark.parametrize(
    "params",
    [
        "server_no_context_takeover; server_no_context_takeover",
        "client_no_context_takeover; client_no_context_takeover",
        "server_max_window_bits=10; server_max_window_bits=10",
        "server_max_window_bits=10; server_max_window_bits=11",
        "client_max_window_bits; client_max_window_bits",
        "client_max_window_bits; client_max_window_bits=10",
    ],
)
def test_a_parameter_given_twice_makes_the_offer_unacceptable(params: str) -> None:
    assert answer(f"permessage-deflate; {params}") is None


@pytest.mark.parametrize("param", ["x", "foo=bar", "Server_No_Context_Takeover", "max_window_bits=10"])
def test_an_unknown_parameter_makes_the_offer_unacceptable(param: str) -> None:
    assert answer(f"permessage-deflate; {param}") is None


def test_answer_lists_every_agreed_parameter_in_the_rfc_order() -> None:
    header = (
        "permessage-deflate; client_max_window_bits=10; server_max_window_bits=11;"
        " client_no_context_takeover; server_no_context_takeover"
    )
    assert answer(header) == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=11; client_max_window_bits=10"
    )


# ------------------------------------------------------------------ grammar


@pytest.mark.parametrize(
    "header",
    [
        'permessage-deflate; server_max_window_bits="10"',
        'permessage-deflate; server_max_window_bits="1\\0"',  # quoted-pair unescapes to the token 10
        "permessage-deflate ; server_max_window_bits = 10",
        "permessage-deflate;server_max_window_bits=10",
        "\tpermessage-deflate;\tserver_max_window_bits=10\t",
    ],
)
def test_quoted_values_and_optional_whitespace_are_understood(header: str) -> None:
    assert answer(header) == "permessage-deflate; server_max_window_bits=10"


def test_quoted_values_of_other_extensions_may_hold_separators() -> None:
    header = 'x-other; note="a, b; c=\\"d\\"", permessage-deflate; server_max_window_bits=10'
    assert answer(header) == "permessage-deflate; server_max_window_bits=10"


def test_the_first_acceptable_offer_wins() -> None:
    header = "permessage-deflate; server_max_window_bits=10, permessage-deflate"
    assert answer(header) == "permessage-deflate; server_max_window_bits=10"


def test_unacceptable_offers_are_skipped_for_a_later_acceptable_one() -> None:
    header = (
        "permessage-deflate; foo, permessage-deflate; server_max_window_bits=99,"
        " permessage-deflate; server_no_context_takeover"
    )
    assert answer(header) == "permessage-deflate; server_no_context_takeover"


def test_permessage_deflate_is_found_among_other_extensions() -> None:
    header = "x-webkit-deflate-frame, foo; bar=baz; qux, permessage-deflate; client_max_window_bits, zzz"
    assert answer(header) == "permessage-deflate"


def test_several_header_lines_joined_by_the_handshake_are_one_list() -> None:
    assert answer("foo, permessage-deflate; server_max_window_bits=10") == (
        "permessage-deflate; server_max_window_bits=10"
    )


def test_empty_list_elements_are_allowed() -> None:
    # RFC 7230 §7: a recipient must accept empty elements.
    assert answer(", ,permessage-deflate,,  ,") == "permessage-deflate"


def test_extension_names_match_exactly_as_registered() -> None:
    assert answer("Permessage-Deflate") is None
    assert answer("PERMESSAGE-DEFLATE, permessage-deflate") == "permessage-deflate"


@pytest.mark.parametrize(
    "header",
    [
        ",",
        " , ,",
        "permessage-deflate;",
        "permessage-deflate; ;server_no_context_takeover",
        "permessage-deflate; =10",
        "permessage-deflate; server_max_window_bits=",
        'permessage-deflate; server_max_window_bits="10',
        'permessage-deflate; server_max_window_bits="10"x',
        "permessage-deflate; server_max_window_bits=10 11",
        "permessage-deflate server_no_context_takeover",
        "permessage-deflate; server_max_window_bits=1\u00e9",
        "permessage-deflate; client_max_window_bits, \u0100",
        "per message-deflate",
        "permessage-deflate\r\n",
        "permessage-deflate; a=b=c",
        '"permessage-deflate"',
        "permessage-deflate, ;",
        "permessage-deflate, x; y=@",
    ],
)
def test_a_malformed_header_is_declined_as_a_whole(header: str) -> None:
    # Even when a well-formed permessage-deflate offer comes first: we do not guess what the client meant.
    assert answer(header) is None


def test_parser_reads_names_parameters_and_values() -> None:
    assert _parse_extensions('a; b; c=d; e="f\\"g", h') == [
        ("a", [("b", None), ("c", "d"), ("e", 'f"g')]),
        ("h", []),
    ]


# ------------------------------------------------------------------ the answer and the codec agree


OFFERS = [
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_max_window_bits=8",
    "permessage-deflate; client_max_window_bits=10",
    "permessage-deflate; server_max_window_bits=9",
    "permessage-deflate; server_max_window_bits=13; client_max_window_bits=14",
    "permessage-deflate; server_no_context_takeover",
    "permessage-deflate; client_no_context_takeover; client_max_window_bits",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15",
]
CONFIGS = [
    OPEN,
    DeflateConfig(),
    DeflateConfig(server_max_window_bits=9, client_max_window_bits=9),
    DeflateConfig(server_no_context_takeover=True, client_no_context_takeover=True),
]


@pytest.mark.parametrize("offer", OFFERS)
@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
def test_the_answer_states_exactly_what_the_codec_uses(offer: str, config: DeflateConfig) -> None:
    response, codec = negotiate(offer, config)
    assert response is not None and codec is not None
    parsed = _parse_extensions(response)
    assert parsed is not None and len(parsed) == 1
    name, params = parsed[0]
    stated = dict(params)
    assert len(stated) == len(params)
    assert name == "permessage-deflate"
    assert ("server_no_context_takeover" in stated) == codec.server_no_context_takeover
    assert ("client_no_context_takeover" in stated) == codec.client_no_context_takeover
    assert int(stated.get("server_max_window_bits") or 15) == codec.server_max_window_bits
    assert int(stated.get("client_max_window_bits") or 15) == codec.client_max_window_bits
    assert codec.level == (6 if config.level is None else config.level)  # None: the backend's default
    assert codec.mem_level == config.mem_level and codec.min_size == config.min_size


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
@pytest.mark.parametrize(
    "client",
    [
        {},
        {"client_max_window_bits": 9},
        {"server_max_window_bits": 10},
        {"server_no_context_takeover": True, "client_no_context_takeover": True},
        {"client_max_window_bits": None},
    ],
    ids=lambda kwargs: ",".join(kwargs) or "default",
)
def test_a_websockets_client_accepts_the_answer_and_exchanges_messages(
    config: DeflateConfig, client: dict
) -> None:
    permessage_deflate = pytest.importorskip("websockets.extensions.permessage_deflate")
    headers = pytest.importorskip("websockets.headers")
    frames = pytest.importorskip("websockets.frames")
    factory = permessage_deflate.ClientPerMessageDeflateFactory(**client)
    offer = headers.build_extension([(factory.name, factory.get_request_params())])
    response, codec = negotiate(offer, config)
    assert response is not None and codec is not None
    [(_, params)] = headers.parse_extension(response)
    remote = factory.process_response_params(params, [])  # raises if the answer breaks the client's rules
    messages = [b"Hello", b"", b"Hello" * 3, bytes(range(256)) * 40, b'{"k": "v"}' * 500, b"Hello"]
    for message in messages:
        sent = remote.encode(frames.Frame(frames.Opcode.BINARY, message))
        assert codec.inflate(sent.data, None) + codec.inflate_finish(None) == message
        ours = frames.Frame(frames.Opcode.BINARY, codec.compress(message), rsv1=True)
        assert remote.decode(ours, max_size=None).data == message
