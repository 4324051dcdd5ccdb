"""The static HTML report: self-contained, and in headless Chromium it opens without console
errors and shows its charts (the system's /usr/bin/chromium through Playwright; skipped where
there is none)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil

import pytest

from experiments.cli import main

CHROMIUM = os.environ.get("B2B_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHARTS = 4  # loss, recall, the config-pair heatmap, the trend


@pytest.fixture(scope="module")
def report(logged, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "--out", str(out), "--tracking-uri", logged.uri]) == 0
    return out


def test_the_page_holds_every_section_and_loads_nothing(report, logged, capsys):
    page = report.read_text()
    for heading in (
        "Leaderboard",
        "Comparison",
        "Loss per epoch",
        "Recall per epoch",
        "Feature config x model config",
        "Trend",
        "What the top 30% share",
    ):
        assert f"<h2>{heading}" in page
    assert page.count("<svg") == CHARTS
    # Nothing fetched at view time: no scripts, links, images, no url() or href but the SVGs'
    # own fragments (clip paths) and inline data (the colour bar's gradient); the only URLs
    # are the SVG namespace identifiers.
    assert not re.search(r"<script|<link|<img|<iframe|url\((?!#)|src=|href=\"(?!#|data:)", page)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink",
                    "http://purl.org/dc/elements/1.1/", "http://creativecommons.org/ns#",
                    "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}  # fmt: skip
    main(["leaderboard", "--tracking-uri", logged.uri, "--json", "--top", "1"])
    best = json.loads(capsys.readouterr().out)["runs"][0]
    first_row = page.split("<h2>Leaderboard</h2>")[1].split("</tr>")[1]
    assert best["run_id"][:12] in first_row and f"{best['value']:.4g}" in first_row
    assert "★" in page.split("<h2>Comparison</h2>")[1].split("<h2>")[0]


def test_the_report_opens_in_headless_chromium_and_shows_the_charts(report, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package "
                    "(CI does, .ci/run) or set B2B_CHROMIUM")  # fmt: skip
    from matplotlib.image import imread
    from playwright.sync_api import sync_playwright

    problems, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])  # fmt: skip
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri(), wait_until="load")
        charts = page.locator("div.chart svg")
        assert charts.count() == CHARTS
        boxes = [charts.nth(i).bounding_box() for i in range(CHARTS)]
        png = page.screenshot(full_page=True)
        (tmp_path / "report.png").write_bytes(png)
        browser.close()
    assert problems == []
    assert requests == [report.as_uri()]  # the page itself, nothing else
    for box in boxes:
        assert box is not None and box["width"] > 300 and box["height"] > 150
    pixels = imread(io.BytesIO(png))[..., :3]
    assert pixels.std() > 0.05  # not a blank page
    for box in boxes:  # every chart's area is drawn, in more than a couple of colours
        top, left = int(box["y"]), int(box["x"])
        area = pixels[top : top + int(box["height"]), left : left + int(box["width"])]
        assert (area < 0.9).any(axis=-1).mean() > 0.01
        assert len({tuple(c) for c in area.reshape(-1, 3)[::7].round(2)}) > 10
