"""The first screen a newcomer sees: JupyterLab opened as `make lab` opens it shows course/index.ipynb, whose links
open the lectures and problem sets."""

from __future__ import annotations

import re

import nbformat
from browsing import ROOT, expect

LINK = re.compile(r"\]\(([^)]+\.ipynb)\)")


def test_lab_opens_on_the_index_and_its_links_open_the_notebooks(page, lab):
    page.goto(f"{lab.url}/?token={lab.token}")  # the server's address, which sends to make lab's default_url
    tab = page.locator(".lm-TabBar-tab.lm-mod-current", has_text="index.ipynb")
    expect(tab).to_be_visible(timeout=60_000)
    targets = [t for cell in nbformat.read(ROOT / "course" / "index.ipynb", as_version=4).cells
               for t in LINK.findall(cell.source)]
    links = page.locator(".jp-MarkdownCell a[href*='.ipynb']")  # rendered as /files/<path>?_xsrf=...
    expect(links).to_have_count(len(targets))
    paths = links.evaluate_all("as => as.map(a => new URL(a.href).pathname)")
    assert paths == [f"/files/{t}" for t in targets]
    # the last one, a problem set: the lectures are running in the background in pages of their own
    name = targets[-1].split("/")[-1]
    links.last.click()
    expect(page.locator(".lm-TabBar-tab.lm-mod-current", has_text=name)).to_be_visible(timeout=30_000)
