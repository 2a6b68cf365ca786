"""The README's Python examples run as written (against the seed's recorded answers, so no model is needed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)


def test_the_readme_has_python_examples() -> None:
    assert EXAMPLES


def test_the_readme_python_examples_run(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SUMMARIZER_BACKEND": "fake",
        "SUMMARIZER_FAKE_SCRIPT": str(ROOT / "evals" / "recorded" / "000_4542c6a513510e75.json"),
        "SUMMARIZER_CACHE_DIR": str(tmp_path / "cache"),
    }
    for number, code in enumerate(EXAMPLES, start=1):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"README example {number} failed:\n{code}\n{done.stderr}"
        assert done.stdout.strip(), f"README example {number} printed nothing"
        if "demand.demander" in code:
            assert "→" in done.stdout  # the seed's recorded answers hold demands, so the loop printed some
