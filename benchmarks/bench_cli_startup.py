"""The ``tessera`` command's start-up: what every invocation pays before it works.

Each command runs as a fresh process (as a user or a test subprocess runs it), ``--runs``
times, alternating the commands so a load change hits all of them alike. Printed per
command: median wall time and median CPU time (user + system of the child) and their
ratio to the baseline, ``python -c pass`` (the interpreter alone); ``python -c "import
click"`` is the floor for any click program.

    nice python benchmarks/bench_cli_startup.py --runs 15

``PYTHONPATH=/other/checkout/src`` compares another checkout's code with the same
interpreter (before/after a change). The homes are throw-away temporary folders; the
lookup asks for a SHA-256 that is not in the database (the answer is "not found",
exit 0 or 1: only the time is measured).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHA256 = "ab" * 32


def _commands(home: Path) -> list[tuple[str, list[str]]]:
    py = sys.executable
    cli = [py, "-m", "tessera.cli.main"]
    return [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c 'import click'", [py, "-c", "import click"]),
        ("tessera --version", [*cli, "--version"]),
        ("tessera --help", [*cli, "--help"]),
        ("tessera user list", [*cli, "--home", str(home), "user", "list"]),
        ("tessera lookup <sha256>", [*cli, "--home", str(home), "lookup", SHA256]),
    ]


def _run_once(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (this child alone) and the exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="runs per command (default 11)")
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    with tempfile.TemporaryDirectory(prefix="tessera-bench-cli-") as tmp:
        home = Path(tmp) / "home"
        env_note = os.environ.get("PYTHONPATH", "(installed package)")
        init = subprocess.run(
            [sys.executable, "-m", "tessera.cli.main", "--home", str(home), "init"],
            capture_output=True,
            check=False,
        )
        if init.returncode != 0:
            sys.exit(f"tessera init failed: {init.stderr.decode(errors='replace')}")
        commands = _commands(home)
        walls: dict[str, list[float]] = {name: [] for name, _ in commands}
        cpus: dict[str, list[float]] = {name: [] for name, _ in commands}
        codes: dict[str, set[int]] = {name: set() for name, _ in commands}
        for _name, argv in commands:  # one warm-up each (file cache, .pyc)
            _run_once(argv)
        for _ in range(args.runs):
            for name, argv in commands:
                wall, cpu, code = _run_once(argv)
                walls[name].append(wall)
                cpus[name].append(cpu)
                codes[name].add(code)
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    base_wall = statistics.median(walls["python -c pass"])
    base_cpu = statistics.median(cpus["python -c pass"])
    print(f"code: {env_note}; {args.runs} runs each; python {sys.version.split()[0]}")
    print(f"load before {' '.join(load_before)}, after {' '.join(load_after)}")
    print(f"{'command':28} {'wall ms':>9} {'x base':>7} {'cpu ms':>9} {'x base':>7}  exit")
    for name, _ in commands:
        w = statistics.median(walls[name])
        c = statistics.median(cpus[name])
        print(
            f"{name:28} {w * 1000:9.0f} {w / base_wall:7.1f} {c * 1000:9.0f} "
            f"{c / base_cpu:7.1f}  {sorted(codes[name])}"
        )


if __name__ == "__main__":
    main()
