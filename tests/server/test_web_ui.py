"""The web UI end to end in a real headless Chromium (Debian's, driven by Playwright).

Chromium's fake camera stands in for the webcam. Screenshots of each panel are saved in
the test's tmp folder (their paths are printed).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from serverkit import EXAMPLES, ROOT
from test_hostile_ids import old_gallery
from typer.testing import CliRunner

from facetrust.cli.main import app as cli

CHROMIUM = Path("/usr/bin/chromium")
KNN = EXAMPLES / "knn_examples"


@pytest.fixture(scope="module")
def report(server, shared: Path) -> Path:
    """A real evaluation report (10 LFW pairs, 5 same + 5 different) in the server's reports folder."""
    lines = (shared / "data" / "lfw_pairs.txt").read_text().splitlines()[1:]
    rows = ["path_a,path_b,same"]
    for name, i, j in (line.split() for line in lines[:5]):
        rows.append(f"{name}/{name}_{int(i):04d}.jpg,{name}/{name}_{int(j):04d}.jpg,1")
    for a, i, b, j in (line.split() for line in lines[300:305]):
        rows.append(f"{a}/{a}_{int(i):04d}.jpg,{b}/{b}_{int(j):04d}.jpg,0")
    pairs = server.home / "pairs.csv"
    pairs.write_text("\n".join(rows) + "\n")
    folder = server.home / "reports" / "lfw-mini"
    result = CliRunner().invoke(cli, ["eval", "pairs", "--csv", str(pairs), "--root", str(shared / "data" / "lfw"),
                                      "--workers", "1", "--report", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        yield launched
        launched.close()


def test_api_docs_render_offline(server, browser):
    """Swagger UI loads every asset from the server (none from a CDN) and renders."""
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((server.url, "blob:", "data:")) else outside.append(r.url))
    page.route(lambda url: not url.startswith(server.url), lambda route: route.abort())  # offline
    page.goto(server.url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=30_000)
    assert page.locator(".opblock").count() > 20 and "facetrust" in page.text_content(".title")
    assert not outside, outside
    page.close()


def test_web_ui(server, report, browser, tmp_path, analyzer):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.grant_permissions(["camera"], origin=server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The page runs under its Content-Security-Policy: any violation is a console error.
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((server.url, "blob:", "data:")) else outside.append(r.url))
    page.goto(server.url + "/")
    page.wait_for_function("() => document.querySelector('#server-info').textContent.includes('edgeface-xs')")

    # Without a key the API refuses, and the page says so.
    page.set_input_files("#analyze-file", str(EXAMPLES / "two_people.jpg"))
    page.wait_for_selector("#message:not([hidden])")
    assert "API key" in page.text_content("#message")
    page.fill("#api-key", server.key)
    page.click("#key-form button")

    # Analyze: an upload, every face boxed with landmarks and scores.
    page.set_input_files("#analyze-file", str(KNN / "test" / "obama_and_biden.jpg"))
    page.wait_for_function("() => document.querySelector('#analyze-summary').textContent.startsWith('3 faces')")
    assert page.eval_on_selector("#analyze-canvas", "c => c.width") > 0
    assert page.locator("#analyze-faces tr").count() == 4  # header + 3 faces
    assert "age " in page.text_content("#analyze-faces tr:nth-child(2)")  # the attributes check's summary
    page.screenshot(path=str(tmp_path / "ui-analyze.png"), full_page=True)

    # Webcam (Chromium's fake camera): a captured frame goes through the same analysis.
    page.click("#webcam-start")
    page.wait_for_function("() => document.querySelector('#webcam').videoWidth > 0")
    page.click("#webcam-capture")
    page.wait_for_function("() => /found \\(\\d+x\\d+\\)/.test(document.querySelector('#analyze-summary').textContent)"
                           " && !document.querySelector('#analyze-summary').textContent.startsWith('3 faces')")
    page.click("#webcam-stop")

    # Compare two faces.
    page.click("button[data-tab=compare]")
    page.set_input_files("#compare-a", str(KNN / "train" / "obama" / "obama.jpg"))
    page.set_input_files("#compare-b", str(KNN / "train" / "obama" / "obama2.jpg"))
    page.click("#compare-run")
    page.wait_for_function("() => document.querySelector('#compare-result').textContent.includes('person')")
    assert page.text_content("#compare-result").startswith("SAME person")
    page.set_input_files("#compare-b", str(KNN / "train" / "biden" / "biden.jpg"))
    page.click("#compare-run")
    page.wait_for_function("() => document.querySelector('#compare-result').textContent.startsWith('DIFFERENT')")
    page.screenshot(path=str(tmp_path / "ui-compare.png"), full_page=True)

    # Gallery: create, enrol, search, delete.
    page.click("button[data-tab=gallery]")
    page.fill("#gallery-new", "ui-gallery")
    page.click("#gallery-create")
    page.wait_for_function("() => document.querySelector('#gallery-select').value === 'ui-gallery'")
    for identity, photo in (("obama", KNN / "train" / "obama" / "obama.jpg"),
                            ("biden", KNN / "train" / "biden" / "biden.jpg")):
        page.fill("#enrol-id", identity)
        page.set_input_files("#enrol-file", str(photo))
        page.click("#enrol-run")
        page.wait_for_selector(f"#identities button.delete[data-id={identity}]")
    page.set_input_files("#search-file", str(KNN / "test" / "obama_and_biden.jpg"))
    page.click("#search-run")
    page.wait_for_function("() => document.querySelector('#search-result').textContent.includes('face #')")
    found = page.text_content("#search-result")
    assert "face #0" in found and found.count("not enrolled") == 1 and "biden" in found and "obama" in found
    page.screenshot(path=str(tmp_path / "ui-gallery.png"), full_page=True)
    page.click("#identities button.delete[data-id=obama]")
    page.wait_for_selector("#identities button.delete[data-id=obama]", state="detached")
    assert page.locator("#identities button.delete").count() == 1

    # Hostile ids: one enrolled through the page, and ids an older version stored ('.', '..', an RTL
    # override), all erased with the Delete button.
    page.fill("#enrol-id", "../../etc/passwd")
    page.set_input_files("#enrol-file", str(KNN / "train" / "biden" / "biden.jpg"))
    page.click("#enrol-run")
    page.wait_for_function("() => document.querySelector('#identity-count').textContent === '(2)'")
    old_gallery(server.home / "galleries", "ui-old", [".", "..", "\u202eevil"], analyzer)
    page.click("button[data-tab=compare]")
    page.click("button[data-tab=gallery]")  # reloads the gallery list
    for name, count in (("ui-gallery", 2), ("ui-old", 3)):
        page.select_option("#gallery-select", name)
        page.wait_for_function(f"() => document.querySelector('#identity-count').textContent === '({count})'")
        for left in range(count - 1, -1, -1):
            page.locator("#identities button.delete").first.click()
            page.wait_for_function(f"() => document.querySelector('#identity-count').textContent === '({left})'")
        assert server.get(f"/v1/galleries/{name}/identities").json()["total"] == 0

    # Reports: metrics and plots of a real evaluation report.
    page.click("button[data-tab=reports]")
    page.wait_for_selector("#report-view[data-loaded=true]")
    page.wait_for_function("() => [...document.querySelectorAll('#report-view img')].every(i => i.naturalWidth > 0)")
    assert page.locator("#report-view figure").count() == 3  # ROC, DET, score distributions
    assert "accuracy" in page.text_content("#report-view table")
    shot = tmp_path / "ui-reports.png"
    page.screenshot(path=str(shot), full_page=True)

    assert not errors, errors
    assert not outside, outside
    for name in ("ui-analyze.png", "ui-compare.png", "ui-gallery.png", "ui-reports.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    print(f"screenshots: {tmp_path}")
    artifacts = ROOT / "test-artifacts"  # gitignored; kept for people who want to look
    artifacts.mkdir(exist_ok=True)
    shutil.copy(shot, artifacts / "server-ui-reports.png")
    context.close()
