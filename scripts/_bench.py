"""Shared helpers of the benchmark scripts: run a command, measure it, print a table.

A measured command runs as a child process of a small launcher. Its wall time, CPU time and
largest resident set come from ``os.wait4`` (CPU time includes every descendant the command
waited for, such as patchelf); its process tree is also sampled from ``/proc`` while it runs,
because ``ru_maxrss`` is the peak of the largest single process, not of the tree.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
_SAMPLE_EVERY = 0.01  # seconds between two samples of the process tree's memory


class BenchError(Exception):
    """A benchmark cannot run; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured run of one command."""

    #: seconds, from start to exit.
    wall: float
    #: user + system seconds of the command and the descendants it waited for.
    cpu: float
    #: peak resident memory of the process tree, in MiB: the larger of the sum over the tree
    #: sampled every 10 ms and :attr:`max_rss_mb`, which sampling can miss.
    rss_mb: float
    #: peak resident memory of the largest single process of the tree (``ru_maxrss``), in MiB:
    #: what ``/usr/bin/time`` reports.
    max_rss_mb: float
    #: peak of the summed proportional set size (``Pss`` of ``/proc/<pid>/smaps_rollup``) of the
    #: tree, in MiB: each page shared by several processes counted once in all. The summed RSS
    #: counts a page once per process that maps it, so a child forked by the command counts the
    #: command's memory a second time until it runs its own program.
    pss_mb: float = 0.0


def tool(name: str) -> str:
    """The path of *name* in the environment running this script, else on PATH."""
    here = Path(sys.executable).parent / name
    if here.is_file():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise BenchError(f"{name} is not installed; run the README's set-up first")
    return found


def _tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = (task / "children").read_text()
            except OSError:
                continue
            todo.extend(int(child) for child in children.split())
    return pids


def _field_kib(path: str, key: str) -> int:
    try:
        with Path(path).open() as lines:
            for line in lines:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kib(pid: int) -> int:
    return _field_kib(f"/proc/{pid}/status", "VmRSS:")


def _pss_kib(pid: int) -> int:
    return _field_kib(f"/proc/{pid}/smaps_rollup", "Pss:")


class _TreeSampler(threading.Thread):
    """Samples the summed RSS of the descendants of *pid* (not of *pid* itself)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.peak_pss_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids = _tree(self.pid)[1:]
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(pid) for pid in pids))
            self.peak_pss_kib = max(self.peak_pss_kib, sum(_pss_kib(pid) for pid in pids))
            self.done.wait(_SAMPLE_EVERY)


# Linux keeps the memory high-water mark of the image a process had before exec in its
# ru_maxrss, so a command forked from this (large) process would report this process's size.
# The command is therefore forked from a small launcher, which reports the command's wall time
# and its wait4 rusage (descendants included) in a file.
_LAUNCHER = """\
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    cpu = usage.ru_utime + usage.ru_stime
    report.write(f"{time.perf_counter() - start} {cpu} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    sample: bool = True,
) -> Sample:
    """Run *argv* to completion and measure it; raise :class:`BenchError` if it fails.

    With ``sample=False`` the process tree is not sampled (its RSS is then the largest single
    process's, its PSS 0): for a command of a fraction of a second on two cores, the sampling
    thread of this process competes with the command for a core.
    """
    with tempfile.TemporaryDirectory(prefix="bench-measure-") as tmp:
        report, log = Path(tmp) / "report", Path(tmp) / "log"
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(report), *argv]
        with log.open("wb") as output:
            proc = subprocess.Popen(
                launcher,
                env=None if env is None else dict(env),
                cwd=cwd,
                stdout=output,
                stderr=output,
            )
            sampler = _TreeSampler(proc.pid)
            if sample:
                sampler.start()
            returncode = proc.wait()
            if sample:
                sampler.done.set()
                sampler.join()
        if returncode != 0 or not report.is_file():
            text = log.read_text(errors="replace")[-4000:]
            raise BenchError(f"{' '.join(argv)} failed ({returncode}):\n{text}")
        wall, cpu, max_rss_kib = report.read_text().split()
    max_rss = int(max_rss_kib)  # KiB on Linux
    return Sample(
        wall=float(wall),
        cpu=float(cpu),
        rss_mb=max(sampler.peak_kib, max_rss) / 1024,
        max_rss_mb=max_rss / 1024,
        pss_mb=sampler.peak_pss_kib / 1024,
    )


def median_sample(samples: Iterable[Sample]) -> Sample:
    """The median of each measure, taken separately."""
    runs = list(samples)
    return Sample(
        wall=statistics.median(s.wall for s in runs),
        cpu=statistics.median(s.cpu for s in runs),
        rss_mb=statistics.median(s.rss_mb for s in runs),
        max_rss_mb=statistics.median(s.max_rss_mb for s in runs),
        pss_mb=statistics.median(s.pss_mb for s in runs),
    )


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table, its columns padded to line up in a terminal too."""
    body = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in body) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(body[0]), rule, *(line(row) for row in body[1:])])


def machine() -> str:
    """One line describing the machine the numbers come from."""
    model = "unknown CPU"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                model = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    py = ".".join(map(str, sys.version_info[:3]))
    return f"{os.cpu_count()} x {model}, {mem:.0f} GiB RAM, Python {py}"


def load() -> str:
    """The load averages, to judge how much other work shared the machine with the benchmark."""
    one, five, fifteen = os.getloadavg()
    return (
        f"load average {one:.2f} {five:.2f} {fifteen:.2f} and {effective_cores():.1f} "
        f"effective cores at the end; {create_cost()}"
    )


def create_cost() -> str:
    """What creating a small file costs in the temporary folder, where presses extract and stage.

    A press creates each file of a closure twice (extracted, then staged as a link); on some
    machines one folder of a disk is much slower to create files in than another.
    """
    folder = tempfile.mkdtemp(prefix="condapress-bench-create-")
    try:
        nested = Path(folder, "a", "b")
        nested.mkdir(parents=True)
        times = []
        for number in range(300):
            start = time.perf_counter()
            with (nested / f"f{number}").open("wb") as out:
                out.write(b"x" * 2048)
            times.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    median_ms = statistics.median(times) * 1e3
    return f"creating a 2 KiB file in {tempfile.gettempdir()}: {median_ms:.2f} ms"


def effective_cores() -> float:
    """How many cores this process tree gets now: CPU seconds per wall second of busy loops.

    On a machine shared with other work this is less than ``os.cpu_count()``, and work spread
    over the cores gains less than the core count suggests.
    """
    spin = "x = 0\nfor i in range(10_000_000):\n    x += i\n"
    count = os.cpu_count() or 1
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-I", "-S", "-c", spin]) for _ in range(count)]
    cpu = 0.0
    for proc in procs:
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        cpu += usage.ru_utime + usage.ru_stime
    return cpu / (time.perf_counter() - start)
