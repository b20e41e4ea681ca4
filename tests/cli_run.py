"""Run the `fapiao` command as a user would: a fresh process, a fixed terminal width, a plain PATH."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def fapiao(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
