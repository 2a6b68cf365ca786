"""The wheel carries everything the CLI needs outside the repository: prompts, schemas, gold answers."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import ROOT


def test_wheel_ships_prompts_schemas_and_gold(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    [wheel] = tmp_path.glob("summarizer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "summarizer/prompts/extract.yaml",
        "summarizer/schemas/records.py",
        "summarizer/schemas/envelope.py",
        "summarizer/evals/gold/000_4542c6a513510e75.yaml",
        "summarizer/testing/fake_openai.py",
        "summarizer/cli/__init__.py",
    ):
        assert required in names, required
    assert not any(n.startswith(("tests/", "schemas/", "prompts/")) for n in names)
