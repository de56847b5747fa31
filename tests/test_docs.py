"""The documentation's links: every relative link of README.md and docs/*.md names a file of
the repository, and its #anchor a heading of that page (the README is split into pages under
docs/; a moved section must not leave a dead link behind)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    """The targets of markdown links and images that are paths (no scheme, no bare anchor)."""
    return [t for t in LINK.findall(text)
            if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_link_pattern_finds_paths_and_skips_addresses():
    text = "[a](docs/x.md#y) ![b](p.png) [c](https://e.org/z) [d](#here) [e](mailto:m@e.org)"
    assert relative_links(text) == ["docs/x.md#y", "p.png"]


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces -."""
    titles = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", text, flags=re.S), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", t.strip().lower()).replace(" ", "-") for t in titles}


def test_anchors_follow_github():
    assert anchors("# A title\n## Reports (`reports/`)\n```\n# not a heading\n```") == {
        "a-title", "reports-reports"}


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_names_an_existing_file(page):
    links = relative_links(page.read_text())
    dead = [t for t in links if not (page.parent / t.split("#")[0]).exists()]
    assert not dead, f"{page.relative_to(ROOT)}: dead links {dead}"
    for target in (t for t in links if "#" in t and t.split("#")[0].endswith(".md")):
        path, anchor = target.split("#")
        assert anchor in anchors((page.parent / path).read_text()), (
            f"{page.relative_to(ROOT)}: {target} names no heading of {path}")


def test_the_readme_links_every_page_under_docs():
    text = (ROOT / "README.md").read_text()
    assert {p.name for p in PAGES[1:]} <= {Path(t.split("#")[0]).name
                                          for t in relative_links(text)}
