"""docs/guarantees.md names the test of each guarantee: every name it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
DOC = TESTS.parent / "docs" / "guarantees.md"


def test_every_test_cited_in_guarantees_md_exists() -> None:
    cited: list[tuple[str, str]] = []
    current = None
    for span in re.findall(r"`([^`]+)`", DOC.read_text()):
        match = re.fullmatch(r"([\w/]+\.py)?::(\w+)", span)
        if not match:
            continue
        current = match.group(1) or current
        assert current, f"{span}: no test file named before it"
        cited.append((current, match.group(2)))
    assert len(cited) >= 30
    missing = [
        f"{path}::{name}"
        for path, name in cited
        if not (TESTS / path).is_file() or f"def {name}(" not in (TESTS / path).read_text()
    ]
    assert missing == []
