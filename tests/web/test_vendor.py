"""The vendored front-end libraries are the pinned releases the README names, and
every page loads scripts and styles from this node only (no CDN)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import tessera.web

STATIC = Path(tessera.web.__file__).parent / "static"
TEMPLATES = Path(tessera.web.__file__).parent / "templates"


def test_vendored_files_match_the_readme_digests() -> None:
    readme = (STATIC / "vendor" / "README.md").read_text()
    rows = re.findall(r"^\| ([\w.-]+\.js) \|.*\| ([0-9a-f]{64}) \|$", readme, re.M)
    assert {name for name, _ in rows} == {"cytoscape-3.35.0.min.js", "axe-core-4.14.1.min.js"}
    for name, digest in rows:
        data = (STATIC / "vendor" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert (STATIC / "vendor" / name.replace(".min.js", ".LICENSE")).is_file()


def test_templates_load_nothing_from_elsewhere() -> None:
    for page in TEMPLATES.glob("*.html"):
        text = page.read_text()
        for url in re.findall(r'(?:src|href)="([^"{]+)"', text):
            assert not re.match(r"^(https?:)?//", url), f"{page.name} loads {url}"
