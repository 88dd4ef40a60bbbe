"""Every input kept under ``corpus/<target>/`` (crashes and slow inputs the fuzzer found, and hand-made
attacks) replays through its target without a crash or a broken invariant."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

CORPUS = Path(__file__).parent / "corpus"
INPUTS = sorted(path for path in CORPUS.glob("*/*") if path.is_file())


def test_every_target_has_a_corpus_folder() -> None:
    assert sorted(path.name for path in CORPUS.iterdir() if path.is_dir()) == sorted(TARGETS)


@pytest.mark.parametrize("path", INPUTS, ids=[f"{p.parent.name}/{p.name}" for p in INPUTS])
def test_kept_input_replays_cleanly(path: Path) -> None:
    TARGETS[path.parent.name](path.read_bytes())
