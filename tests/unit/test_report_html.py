"""report.html, opened in headless Chromium: the page loads, every image is there, no link is broken."""
from __future__ import annotations


import json
import os
import re
import shutil
import subprocess

import pytest

from testbed.lab import experiment

from test_experiment_runner import files, run   # noqa: F401  (the fixture and the helper)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHECK = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({src: i.getAttribute("src"), ok: i.complete && i.naturalWidth > 0}));
  const links = [...document.querySelectorAll("a[href]")].map(a => a.getAttribute("href"));
  const sections = [...document.querySelectorAll("h2")].map(h => h.id);
  document.body.setAttribute("data-check", JSON.stringify({title: document.title, images, links, sections}));
});
</script></body>"""


def browse(path: str) -> dict:
    """What Chromium found in the page at ``path``: title, images (loaded?), links, sections."""
    folder = os.path.dirname(path)
    probe = os.path.join(folder, "report-check.html")         # beside it, so relative links resolve alike
    with open(path) as f:
        page = f.read()
    with open(probe, "w") as f:
        f.write(page.replace("</body>", CHECK))
    try:
        done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                               "--virtual-time-budget=10000", f"file://{probe}"], capture_output=True, text=True,
                              timeout=120)
    finally:
        os.remove(probe)
    found = re.search(r'data-check="([^"]*)"', done.stdout)
    assert found, f"Chromium did not load the page (exit {done.returncode}): {done.stderr[-500:]}"
    import html
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium; `make test` installs it)")
def test_report_loads_with_every_image_and_no_broken_link(files, tmp_path):
    outcome, _, _ = run(files(second_ok=False), tmp_path)
    page = os.path.join(outcome.folder, "report.html")
    text = open(page).read()
    assert "FAIL" in text and "PASS" in text and "A claim that may fail." in text
    assert "mean ± 1 s.d." in text and "Provenance" in text
    seen = browse(page)
    assert seen["title"] == "demo: results"
    assert seen["sections"] == ["claims", "results", "plots", "provenance", "files"]
    assert seen["images"] and all(i["ok"] for i in seen["images"]), seen["images"]
    assert {i["src"] for i in seen["images"]} == {"plots/value.png"}          # the plot with no column is absent
    for link in seen["links"] + [i["src"] for i in seen["images"]]:
        assert not re.match(r"^[a-z]+:", link), link                          # relative: the folder travels
        assert os.path.isfile(os.path.join(outcome.folder, link)), link       # no broken link
    assert {"results.csv", "meta.json", "experiment.py", "topology.py", "plots/value.svg", "plots/value.pdf"} \
        <= set(seen["links"])


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium; `make test` installs it)")
def test_report_of_a_run_that_raised_shows_the_traceback(files, tmp_path):
    from test_experiment_runner import EXPERIMENT, SINGLE
    body = EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second")
    body = body.replace("    net.calls.append", "    if params.point == 1: 1 / 0\n    net.calls.append")
    with pytest.raises(experiment.ExperimentFailed):
        run(files(body=body), tmp_path)
    folder = next(os.scandir(tmp_path / "out" / "demo")).path
    page = os.path.join(folder, "report.html")
    text = open(page).read()
    assert "Claims not checked" in text and "ZeroDivisionError" in text and "line 14, in run" in text
    seen = browse(page)
    assert all(os.path.isfile(os.path.join(folder, link)) for link in seen["links"])
    assert all(i["ok"] for i in seen["images"])


def test_report_command_rewrites_the_page(files, tmp_path, capsys):
    from testbed.cli.main import main
    outcome, _, _ = run(files(), tmp_path)
    os.remove(os.path.join(outcome.folder, "report.html"))
    assert main(["report", outcome.folder, "--format", "png"]) == 0
    assert os.path.isfile(os.path.join(outcome.folder, "report.html"))
    assert "report.html" in capsys.readouterr().err

