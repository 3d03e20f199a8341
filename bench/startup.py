"""How long `mafa --help` and `mafa --version` take to start: the median of 20 runs of each, as a
user runs them (a new interpreter each time), for one checkout of the code.

    .venv/bin/python bench/startup.py                       # this checkout
    .venv/bin/python bench/startup.py --checkout /work/main # another one, for a before/after

The same interpreter and installed libraries run both checkouts (PYTHONPATH picks the code), so
the difference is the code's own imports. Each run starts from a directory outside the checkout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = "import sys; from mafa_cli.cli import main; sys.argv[0] = 'mafa'; main()"
BUDGET_S = 0.3  # issue 14: both under 0.3 s


def timed_runs(checkout: Path, args: list[str], runs: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    times = []
    with tempfile.TemporaryDirectory() as outside:
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", ENTRY, *args],
                env=env,
                cwd=outside,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()
    print(f"checkout {options.checkout.resolve()}, {options.runs} runs each, {sys.executable}")
    for args in (["--help"], ["--version"]):
        times = timed_runs(options.checkout.resolve(), args, options.runs)
        median = statistics.median(times)
        verdict = "within" if median < BUDGET_S else "over"
        print(
            f"mafa {' '.join(args):<10} median {median:.3f} s  min {min(times):.3f}  "
            f"max {max(times):.3f}  ({verdict} the {BUDGET_S} s budget)"
        )


if __name__ == "__main__":
    main()
