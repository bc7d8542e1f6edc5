"""No two classes in src/tessera share a name (the brief's rule: one name, one concept).

A clash makes tracebacks, imports and documentation ambiguous (round 1 had two
``Fingerprint`` and two ``MediaMetadata`` classes); this keeps it from coming back.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "tessera"


def test_every_class_name_is_unique() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                where[node.name].append(f"{path.relative_to(SRC)}:{node.lineno}")
    clashes = {name: places for name, places in where.items() if len(places) > 1}
    assert not clashes, f"classes sharing a name: {clashes}"
