"""The report in a real headless browser (Chromium): it loads without console errors and shows the table
and the slice images."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from test_report_html import RESULT, _scan

from cacscore.labels import Artery
from cacscore.reporting import render_report_html

_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM = next((shutil.which(n) for n in _NAMES if shutil.which(n)), None)

#: CI (``.ci/run`` sets CI=true) must run the browser test: a missing Chromium fails there, not skips.
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _chromium_present() -> None:
    if CHROMIUM is None:
        message = f"no headless Chromium installed ({' / '.join(_NAMES)}; apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{message}, and CI must run the browser test")
        pytest.skip(message)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def _console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if "CONSOLE" in line or "Uncaught" in line or "Failed to load resource" in line]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    volume, labels = _scan()
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report_html(RESULT, volume, labels), encoding="utf-8")
    return path


def test_dom_has_table_and_images_without_console_errors(tmp_path, report_file):
    done = _chromium(tmp_path, "--dump-dom", report_file.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert '<table id="per-artery">' in dom
    assert dom.count('<img src="data:image/png;base64,') == 2
    assert "LAD" in dom and "RCA" in dom
    assert _console_errors(done.stderr) == []


def test_screenshot_shows_images_in_artery_colours(tmp_path, report_file):
    shot = tmp_path / "shot.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2200", "--hide-scrollbars",
                     report_file.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    for artery in (Artery.LAD, Artery.RCA):
        # outlines drawn in the image itself (the legend swatches are flat colour too, so require many)
        close = np.abs(pixels - np.asarray(artery.colour)).max(axis=1) <= 12
        assert close.sum() > 150, artery
    # the slices are greyscale CT: many grey pixels that are neither white nor black
    grey = (np.ptp(pixels, axis=1) <= 3) & (pixels[:, 0] > 20) & (pixels[:, 0] < 235)
    assert grey.sum() > 20000
    assert _console_errors(done.stderr) == []
