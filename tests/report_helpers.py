"""Shared by the report tests: a small user project (pytester) and an HTML structure checker."""

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

from toy import project_conftest

CONFTEST = project_conftest()

# test_a worsens with TOY_SHIFT; a percentage max_drift keeps the sessions fast (no permutation test).
TESTS = """
import os
from toy import toy_images
from pytest_genquality import ImageBatch, assert_fid_below

def test_a(ref, extractor):
    toy = toy_images(range(80), shift=float(os.environ.get("TOY_SHIFT", "0.2")))
    batch = ImageBatch(toy.images, seeds=toy.seeds, prompts=[f"a red bicycle no. {s}" for s in toy.seeds])
    assert_fid_below(batch, ref, 100.0, extractor=extractor, max_drift="10%")

def test_b(ref, extractor):
    assert_fid_below(toy_images(range(100, 132)), ref, 100.0, extractor=extractor, max_drift="10%")
"""

NODE_A, NODE_B = "test_quality.py::test_a", "test_quality.py::test_b"

VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class PageStructure(HTMLParser):
    """Parses a page, checking that every element is closed in order, and collects what tests need.

    ``elements``: (tag, attrs, id of the enclosing <section> or None) for every start tag;
    ``section_text``: section id -> its text; ``sections``: section ids in page order.
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.elements: list[tuple[str, dict, str | None]] = []
        self.text_parts: list[str] = []
        self.sections: list[str] = []
        self.section_text: dict[str, str] = {}
        self.section: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.section = attrs.get("id")
            self.sections.append(self.section)
            self.section_text[self.section] = ""
        self.elements.append((tag, attrs, self.section))
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):  # self-closed SVG elements: <line .../>
        self.elements.append((tag, dict(attrs), self.section))

    def in_section(self, section: str, tag: str, **wanted) -> list[dict]:
        """Attributes of the ``tag`` elements inside ``section`` whose attributes include ``wanted``."""
        return [
            attrs
            for t, attrs, where in self.elements
            if t == tag and where == section and all(attrs.get(k.rstrip("_")) == v for k, v in wanted.items())
        ]

    def handle_endtag(self, tag):
        if tag in VOID_ELEMENTS:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            return
        self.stack.pop()
        if tag == "section":
            self.section = None

    def handle_data(self, data):
        self.text_parts.append(data)
        if self.section is not None:
            self.section_text[self.section] += data + " "

    @property
    def text(self) -> str:
        return " ".join(self.text_parts)


def parse_page(html: str) -> PageStructure:
    """Parse ``html`` and assert it is balanced: every element closed, in order, nothing left open."""
    assert html.startswith("<!DOCTYPE html>")
    page = PageStructure()
    page.feed(html)
    page.close()
    assert not page.errors, page.errors[:5]
    assert page.stack == [], f"unclosed elements: {page.stack}"
    return page


def decode_data_png(src: str) -> Image.Image:
    """A data: URI that must hold a PNG -> the decoded image (fails on anything else)."""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:60]
    data = base64.b64decode(src[len(prefix) :], validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)


def chromium(page: Path, profile: Path, *actions: str, timeout: float = 60) -> str:
    """Run headless Chromium on a local page with a fresh profile; returns its stdout.

    actions: e.g. ``--screenshot=PATH``, ``--window-size=1280,2000`` or ``--dump-dom``.
    Network features are off so the run never waits on (or reaches) anything outside.
    """
    import subprocess

    command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *actions, Path(page).resolve().as_uri()]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout
