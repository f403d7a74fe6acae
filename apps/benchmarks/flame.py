"""py-spy flame graphs (SVG) of the benchmark's Python processes, written to ``reports/``.

``py-spy record --nonblocking`` samples a running process from outside (root, or ptrace allowed)
without pausing it; SIGINT makes it write the SVG. Sampling costs CPU on a 2-core machine, so it
is opt-in (``--flame``) and a run with it is for reading the graphs, not for the figures.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console


def py_spy() -> str | None:
    """The py-spy next to this interpreter (dev dependency), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextmanager
def flame_graphs(pids: Mapping[str, int], out: Path, console: Console, rate: int = 49) -> Iterator[list[Path]]:
    """Record ``{label: pid}`` while the block runs; yields the SVG paths (``out_<label>.svg``)."""
    binary = py_spy()
    if binary is None or not pids:
        console.print("[yellow]flame graphs skipped: py-spy not installed (pip install -e '.[dev]')[/]")
        yield []
        return
    paths = [out.with_name(f"{out.stem}_{label}.svg") for label in pids]
    recorders = [
        subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--output", str(path), "--rate", str(rate), "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for path, pid in zip(paths, pids.values(), strict=True)
    ]
    try:
        yield paths
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder, path in zip(recorders, paths, strict=True):
            try:
                _, err = recorder.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                recorder.kill()
                err = b"timed out writing"
            if not path.exists():
                console.print(f"[yellow]flame graph {path.name} not written: {err.decode(errors='replace')[-200:]}[/]")
