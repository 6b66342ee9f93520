"""`advexplore teach`: the notebooks as Voilà apps (code hidden, widgets live)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path


def voila_command(notebook: Path | None, port: int, directory: Path, token: str | None = None,
                  open_browser: bool = False) -> list[str]:
    """The Voilà command line that serves one notebook (or the folder) as an app, code hidden."""
    exe = shutil.which("voila", path=str(Path(sys.executable).parent)) or shutil.which("voila")
    cmd = [exe] if exe else [sys.executable, "-m", "voila"]
    cmd += [str(notebook if notebook else directory), f"--port={port}", "--Voila.ip=127.0.0.1",
            "--strip_sources=True", "--theme=light"]
    if not open_browser:
        cmd.append("--no-browser")
    if token is not None:
        cmd.append(f"--token={token}")
    return cmd
