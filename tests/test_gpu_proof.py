"""The GPU check's dry run: the same script on the CPU with 2+2 layers, so it cannot rot unseen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = """
import runpy, sys
sys.argv = ["gpu_proof", "--dry-run", "--out", sys.argv[1]]
runpy.run_module("bench.gpu_proof", run_name="__main__")
heavy = sorted(m for m in ("gradio", "av", "spaces") if m in sys.modules)
assert not heavy, f"the GPU check imported {heavy}: the GPU machine does not have them"
"""


def test_dry_run_measures_every_part_and_imports_no_gradio(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_proof-all.json").read_text())
    rows = {row["what"]: row for row in report["rows"]}
    assert not [r for r in report["rows"] if r["value"] in ("failed", "skipped")], report["rows"]
    for what in (
        "build on cpu (float32, random weights)",
        "weights memory (float32)",
        "follow-up first token, recomputed",
        "load from disk through load_model, fp32",
    ):
        assert what in rows, sorted(rows)
    assert any(w.endswith("ZeroGPU duration asked / answer measured") for w in rows)
    assert any(w.startswith("2 conversations at once: total") for w in rows)
    decode = [r["value"] for w, r in rows.items() if w.endswith("decode, sdpa")]
    assert len(decode) == 2 and all(v > 0 for v in decode)
    assert "2+2 layers" in report["title"] and "| measurement |" in (tmp_path / "gpu_proof-all.md").read_text()
