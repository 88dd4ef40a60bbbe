"""The user's vocabulary without a server: the resource decorator, collect, origin policies, the table."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import pytest

from livews import (
    Handler,
    Reject,
    Resource,
    Resources,
    any_origin,
    collect,
    origin_exact,
    origin_prefix,
    resource,
)


def _module(name: str, source: str) -> ModuleType:
    module = ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), vars(module))
    return module


def test_the_decorator_only_marks_the_class_and_collect_finds_it() -> None:
    module = _module(
        "handler_file_a",
        "from livews import Handler, resource\n"
        "@resource('/a', max_clients=3)\n"
        "class A(Handler):\n"
        "    pass\n"
        "class Unmarked(Handler):\n"
        "    pass\n",
    )
    (found,) = collect(module)
    assert found.path == "/a" and found.handler is module.A and found.max_clients == 3


def test_collecting_the_same_module_twice_gives_fresh_equal_resources_and_no_global_state() -> None:
    source = "from livews import Handler, resource\n@resource('/x')\nclass X(Handler):\n    pass\n"
    first, second = collect(_module("file_1", source)), collect(_module("file_2", source))
    assert [r.path for r in first] == [r.path for r in second] == ["/x"]
    assert first[0].handler is not second[0].handler


def test_collect_ignores_marked_classes_imported_from_elsewhere() -> None:
    @resource("/imported")
    class Imported(Handler):
        pass

    module = _module("importer", "")
    vars(module)["Imported"] = Imported
    assert collect(module) == []


def test_a_resource_path_must_start_with_a_slash() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        resource("echo")
    with pytest.raises(ValueError, match="must start with '/'"):
        Resource("echo", Handler)


def test_max_payload_length_is_the_cl_websocket_name_of_max_message_size() -> None:
    r = Resource("/p", Handler, max_payload_length=1234, max_frame_count=7)
    assert r.max_message_size == 1234
    assert r.limits.max_message_size == 1234 and r.limits.max_frame_count == 7


def test_a_resource_can_be_copied_with_another_handler_class_keeping_its_options() -> None:
    class Other(Handler):
        pass

    r = Resource("/p", Handler, max_clients=2, max_payload_length=99)
    copy = dataclasses.replace(r, handler=Other)
    assert copy.handler is Other and copy.max_clients == 2 and copy.limits.max_message_size == 99


def test_any_origin_accepts_everything_including_no_origin() -> None:
    policy = any_origin()
    assert policy("https://anything.example") and policy(None)


def test_origin_exact_accepts_only_the_listed_origins() -> None:
    policy = origin_exact("https://a.example", "https://b.example")
    assert policy("https://a.example") and policy("https://b.example")
    assert not policy("https://a.example.evil") and not policy(None)


def test_origin_prefix_accepts_origins_that_start_with_a_prefix() -> None:
    policy = origin_prefix("https://app.", "http://localhost:")
    assert policy("https://app.example") and policy("http://localhost:3000")
    assert not policy("https://evil.example") and not policy(None)


def test_origin_policies_print_what_they_check() -> None:
    assert "a.example" in repr(origin_exact("https://a.example"))


def test_reject_carries_status_and_reason() -> None:
    exc = Reject(status=401, reason="who are you?")
    assert exc.status == 401 and exc.reason == "who are you?"
    assert Reject().status == 403


def test_resources_resolve_by_exact_path_and_refuse_duplicates() -> None:
    table = Resources([Resource("/a", Handler), Resource("/b", Handler)])
    a = table.resolve("/a")
    assert a is not None and a.path == "/a"
    assert table.resolve("/c") is None and table.resolve("/a/") is None
    assert len(table) == 2 and [r.path for r in table] == ["/a", "/b"]
    with pytest.raises(ValueError):
        table.add(Resource("/a", Handler))
