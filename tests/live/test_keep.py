"""``keep(name, default)``: module state a handler file asks to carry across reloads."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from livews.live.keep import KEEP_ATTR, keep, kept_values
from livews.live.loader import load_file


def _none(module: ModuleType) -> list[object]:
    return []


def _write(path: Path, text: str) -> Path:
    path.write_text("from livews.live.keep import keep\n" + text)
    return path


def test_keep_returns_the_default_outside_a_reload() -> None:
    assert keep("anything", [1]) == [1]
    assert "anything" in globals()[KEEP_ATTR]


def test_a_kept_list_is_the_same_object_in_the_next_version(tmp_path: Path) -> None:
    f = _write(tmp_path / "chat.py", "messages = keep('messages', [])\n")
    v1 = load_file(f, _none).module
    v1.messages.append("hello")
    _write(f, "messages = keep('messages', [])\nVERSION = 2\n")
    v2 = load_file(f, _none, previous=v1).module
    assert v2.messages is v1.messages
    assert v2.messages == ["hello"]


def test_a_rebound_immutable_is_carried_with_its_current_value(tmp_path: Path) -> None:
    source = "visits = keep('visits', 0)\ndef hit():\n    global visits\n    visits += 1\n"
    f = _write(tmp_path / "count.py", source)
    v1 = load_file(f, _none).module
    v1.hit()
    v1.hit()
    v2 = load_file(f, _none, previous=v1).module
    assert v2.visits == 2


def test_a_name_not_kept_starts_fresh(tmp_path: Path) -> None:
    f = _write(tmp_path / "chat.py", "messages = []\n")
    v1 = load_file(f, _none).module
    v1.messages.append("lost")
    v2 = load_file(f, _none, previous=v1).module
    assert v2.messages == []


def test_a_kept_value_of_another_type_than_the_new_default_is_reset_and_reported(tmp_path: Path) -> None:
    f = _write(tmp_path / "chat.py", "messages = keep('messages', [])\n")
    v1 = load_file(f, _none).module
    v1.messages.append("x")
    _write(f, "messages = keep('messages', {})\n")
    loaded = load_file(f, _none, previous=v1)
    assert loaded.module.messages == {}
    assert loaded.reset == ["messages"]


def test_kept_values_lists_current_values_by_name(tmp_path: Path) -> None:
    f = _write(tmp_path / "m.py", "a = keep('a', 1)\nb = keep('b', None)\n")
    module = load_file(f, _none).module
    module.a = 5
    assert kept_values(module) == {"a": 5, "b": None}
