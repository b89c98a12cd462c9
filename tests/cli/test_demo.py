"""``cacscore demo``: no data needed; prints the per-artery table and where the report is."""

from __future__ import annotations

import json

from cacscore.cli.main import main


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["-q", "demo", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    for word in ("LAD", "LCX", "RCA", "total", "phantom truth", "report:"):
        assert word in printed
    report = out / "results" / "demo-phantom" / "report.html"
    assert report.is_file() and str(report.resolve()) in printed
    result = json.loads((out / "results" / "demo-phantom" / "result.json").read_text())
    assert result["agatston"]["total"] > 0  # the demo phantom has coronary calcium
    # a second run replaces its own results
    assert main(["-q", "demo", "-o", str(out)]) == 0
