"""Idle daemon memory and demo start-up latency, measured on real processes.

Run:  python -m benchmarks.bench_daemon      Targets: idle RSS < 250 MB; demo prints within 3 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.yaml"


def marginguard() -> list[str]:
    exe = shutil.which("marginguard")
    return [exe] if exe else [sys.executable, "-m", "bot"]


def idle_rss(seconds: float = 20.0) -> tuple[float, float]:
    """(RSS MB after ``seconds`` of running on the example config, peak RSS MB seen)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            MARGINGUARD__DATABASE__PATH=str(Path(tmp) / "j.db"),
            MARGINGUARD__HEALTH__HEARTBEAT_FILE=str(Path(tmp) / "hb"),
            MARGINGUARD__POLL__INTERVAL_S="2",
        )
        proc = subprocess.Popen(
            [*marginguard(), "run", "--config", str(EXAMPLE)],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peak = 0.0
        try:
            p = psutil.Process(proc.pid)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                rss = p.memory_info().rss / 2**20
                peak = max(peak, rss)
                time.sleep(0.5)
            rss = p.memory_info().rss / 2**20
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return rss, peak


def demo_first_output() -> tuple[float, float]:
    """(seconds until the demo printed its first line, seconds until it finished)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        proc = subprocess.Popen([*marginguard(), "demo"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        proc.stdout.readline()
        first = time.monotonic() - t0
        proc.communicate(timeout=120)
        return first, time.monotonic() - t0


def main() -> None:
    first, total = demo_first_output()
    rss, peak = idle_rss()
    print("benchmark                          measured     target")
    print(f"demo: first line printed           {first:6.2f} s     < 3 s")
    print(f"demo: whole run (paced)            {total:6.2f} s     well under 60 s")
    print(f"daemon RSS after 20 s (example)    {rss:6.1f} MB    < 250 MB  (peak {peak:.1f} MB)")


if __name__ == "__main__":
    main()
