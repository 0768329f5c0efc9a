"""Benchmark ``condapress plan`` on a real conda-forge repodata snapshot, warm and cold.

Not a test: it prints a table. The channel is ``../shared/realworld/repodata/conda-forge-2024-05``
(``linux-64`` and ``noarch`` ``repodata.json``, metadata only), or ``--channel DIR``. It runs,
alternating, for ``--rounds`` rounds:

- ``condapress plan SPEC... -c CHANNEL --python 3.11`` as a child process, with a warm
  ``--cache-dir`` (filled by one untimed run, which also compiles condapress's bytecode, as
  installing the wheel does) and with a cold one (a fresh folder each time); each child is
  measured by ``wait4`` alone (wall, CPU, peak RSS), with no sampling thread beside it;
- ``python -c 'import condapress._core'``: what the command pays before it solves anything;
- the library call ``condapress._core.make_plan`` in this process, warm and cold, and its stages
  (``solve.resolve``, ``unpack.peek``, ``plan.plan``) on the warm cache.

The last line is machine-readable::

    solve_cli_warm_s=<s> solve_cli_cold_s=<s> make_plan_warm_s=<s> make_plan_cold_s=<s> import_s=<s>

Usage::

    python scripts/bench_solve.py [--rounds 5] [--channel DIR] [SPEC ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import _bench
from condapress import _core, plan, solve
from condapress.model import PlanOptions, SolveRequest
from condapress.unpack import peek

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

DEFAULT_CHANNEL = _bench.REPO_ROOT.parent / "shared/realworld/repodata/conda-forge-2024-05"
DEFAULT_SPECS = ("curl", "sqlite", "six", "pyparsing")
PYTHON = "3.11"


def _clock(call: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def _row(label: str, samples: Sequence[_bench.Sample]) -> list[str]:
    med = _bench.median_sample(samples)
    return [
        label,
        str(len(samples)),
        f"{med.wall:.3f}",
        f"{med.cpu:.3f}",
        f"{med.rss_mb:.0f}" if med.rss_mb else "-",
        f"{min(s.wall for s in samples):.3f}",
    ]


def _in_process(label: str, timings: Sequence[tuple[float, float]]) -> list[str]:
    return _row(label, [_bench.Sample(w, c, 0.0, 0.0) for w, c in timings])


def run(args: argparse.Namespace, work: Path) -> int:
    """Time the command and the library call; print the table; returns the exit status."""
    channel: Path = args.channel
    if not (channel / "linux-64" / "repodata.json").is_file():
        raise _bench.BenchError(
            f"{channel} holds no linux-64/repodata.json; pass --channel with a local channel "
            "folder (the default is ../shared/realworld/repodata/conda-forge-2024-05)"
        )
    specs = tuple(args.specs or DEFAULT_SPECS)
    condapress = _bench.tool("condapress")

    def cli(cache: Path) -> list[str]:
        argv = [condapress, "plan", *specs, "-c", str(channel), "--python", PYTHON]
        return [*argv, "--cache-dir", str(cache)]

    def request(cache: Path) -> SolveRequest:
        return SolveRequest(specs=specs, channels=(str(channel),), python=PYTHON, cache_dir=cache)

    options = PlanOptions()
    warm = work / "cache-warm"
    # Untimed: fills the warm cache, and compiles condapress's bytecode as pip does when it
    # installs a wheel (an editable install compiles it on first use unless
    # PYTHONDONTWRITEBYTECODE is set, which would make every timed run compile it again).
    compiling = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _bench.measure(cli(warm), env=compiling)
    _core.make_plan(request(warm), options)  # untimed: loads what the first call loads
    cli_warm, cli_cold, imports = [], [], []
    lib_warm, lib_cold, resolve_t, facts_t, plan_t = [], [], [], [], []
    import_argv = [sys.executable, "-c", "import condapress._core"]
    for round_ in range(args.rounds):
        # One process each, measured by wait4 alone: no sampling thread beside a 0.3 s command.
        cli_warm.append(_bench.measure(cli(warm), sample=False))
        cli_cold.append(_bench.measure(cli(work / f"cache-cold-{round_}"), sample=False))
        imports.append(_bench.measure(import_argv, sample=False))
        lib_warm.append(_clock(lambda: _core.make_plan(request(warm), options)))
        cold = request(work / f"lib-cold-{round_}")
        lib_cold.append(_clock(lambda: _core.make_plan(cold, options)))  # noqa: B023 - called now
        # The stages of make_plan, one at a time (warm).
        req = request(warm)
        closure = solve.resolve(req)
        resolve_t.append(_clock(lambda: solve.resolve(req)))  # noqa: B023
        facts = peek(closure, plan.facts_wanted(closure), warm)
        facts_t.append(_clock(lambda: peek(closure, plan.facts_wanted(closure), warm)))  # noqa: B023
        plan_t.append(_clock(lambda: plan.plan(closure, facts, options)))  # noqa: B023
    the_plan = _core.make_plan(request(warm), options)
    print()
    print(f"machine: {_bench.machine()}; {_bench.load()}")
    print(
        f"channel: {channel} ({_records(channel)} records); specs: {' '.join(specs)}; "
        f"python {PYTHON}; closure {len(the_plan.closure.records)} packages, "
        f"{len(the_plan.wheels)} wheels; medians of {args.rounds} rounds, alternating"
    )
    print()
    header = ["what", "runs", "wall s", "CPU s", "peak RSS MB", "best wall s"]
    rows = [
        _row("condapress plan (CLI), warm cache", cli_warm),
        _row("condapress plan (CLI), cold cache", cli_cold),
        _row("python -c 'import condapress._core'", imports),
        _in_process("make_plan() in process, warm cache", lib_warm),
        _in_process("make_plan() in process, cold cache", lib_cold),
        _in_process("  solve.resolve() (warm)", resolve_t),
        _in_process("  unpack.peek() (warm)", facts_t),
        _in_process("  plan.plan()", plan_t),
    ]
    print(_bench.table(header, rows))
    print()
    medians = {
        "solve_cli_warm_s": statistics.median(s.wall for s in cli_warm),
        "solve_cli_cold_s": statistics.median(s.wall for s in cli_cold),
        "make_plan_warm_s": statistics.median(w for w, _ in lib_warm),
        "make_plan_cold_s": statistics.median(w for w, _ in lib_cold),
        "import_s": statistics.median(s.wall for s in imports),
    }
    print(" ".join(f"{key}={value:.3f}" for key, value in medians.items()))
    return 0


def _records(channel: Path) -> int:
    import json  # noqa: PLC0415 - only for the header line

    total = 0
    for subdir in ("linux-64", "noarch"):
        path = channel / subdir / "repodata.json"
        if path.is_file():
            data = json.loads(path.read_text())
            total += len(data.get("packages", {})) + len(data.get("packages.conda", {}))
    return total


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", metavar="SPEC", help=f"default: {DEFAULT_SPECS}")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; default 5")
    parser.add_argument("--channel", type=Path, default=DEFAULT_CHANNEL, help="channel folder")
    args = parser.parse_args(argv)
    args.channel = args.channel.resolve()
    try:
        with tempfile.TemporaryDirectory(prefix="condapress-bench-solve-") as tmp:
            return run(args, Path(tmp))
    except _bench.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
