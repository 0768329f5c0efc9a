"""Build the condapress fixture conda channel from its recipes.

The channel in ``channels_fixture/`` imitates conda-forge packages closely
enough to exercise condapress on real hazards: prefix placeholders in text and
binary files, soname symlink chains, ``$ORIGIN`` RPATHs, weak ``std::``
symbols, two majors of one library, CPython extensions for several Pythons
(one reaching libgreet 1 through libgreetpp, one linking libgreet 2), a
``noarch: python`` package whose PyPI name differs from its conda name, and
metadata-only stand-ins for python, python_abi and the GCC runtime.

Every package is compiled with gcc/g++ from ``channels_fixture/recipes``,
assembled in a temporary staging directory, packed as ``.tar.bz2`` or
``.conda`` and indexed with ``rattler.index.index_fs``.  The output is byte
for byte reproducible for a given toolchain (recorded in
``recipes/toolchain.json``): fixed mtimes (``SOURCE_DATE_EPOCH``, default
1700000000), sorted archive members, uid/gid 0 with empty owner names, fixed
ZIP timestamps, ``-ffile-prefix-map`` for the temporary build directory and
stripped binaries.

Usage::

    python scripts/build_fixture_channel.py              # rebuild channels_fixture/
    python scripts/build_fixture_channel.py --out DIR    # build elsewhere
    python scripts/build_fixture_channel.py --check      # rebuild in a temp dir, compare
    python scripts/build_fixture_channel.py --toolchain  # print the toolchain as JSON
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bz2
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rattler.index
import zstandard

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = REPO_ROOT / "channels_fixture"
RECIPES_DIR = FIXTURE_DIR / "recipes"
LICENSE_FILE = RECIPES_DIR / "LICENSE"
TOOLCHAIN_FILE = RECIPES_DIR / "toolchain.json"
SUBDIRS = ("linux-64", "noarch")
DEFAULT_SOURCE_DATE_EPOCH = 1700000000

PLACEHOLDER_LENGTH = 255
BUILD_ROOT = "/home/conda/feedstock_root/build_artifacts"
# conda-build names the build folder <name>_<ms timestamp> a little before the
# package's index.json timestamp is taken.
FOLDER_TIMESTAMP_LEAD_MS = 96_000

PYTHON_VERSIONS = ("3.10", "3.11", "3.12")

CFLAGS = ["-O2", "-g0", "-fPIC", "-Wall", "-Wextra", "-fstack-protector-strong"]
CXXFLAGS = [*CFLAGS, "-std=c++17", "-D_GLIBCXX_USE_CXX11_ABI=1"]
# conda-forge's LDFLAGS (DT_RPATH through --disable-new-dtags), plus a
# deterministic build id and stripping.
LDFLAGS = [
    "-Wl,-O2",
    "-Wl,--sort-common",
    "-Wl,--as-needed",
    "-Wl,-z,relro",
    "-Wl,-z,now",
    "-Wl,--disable-new-dtags",
    "-Wl,--gc-sections",
    "-Wl,--build-id=sha1",
    "-s",
]

CONDA_ABOUT_DEFAULTS: dict[str, Any] = {
    "channels": ["https://conda.anaconda.org/conda-forge"],
    "conda_build_version": "3.28.4",
    "conda_version": "23.11.0",
    "env_vars": {"CIO_TEST": "<not set>"},
    "extra": {
        "copy_test_source_files": True,
        "final": True,
        "recipe-maintainers": ["condapress"],
    },
    "identifiers": [],
    "keywords": [],
    "tags": [],
}


class BuildError(RuntimeError):
    """A package could not be built."""


# --------------------------------------------------------------------------
# helpers


def placeholder(name: str, timestamp_ms: int) -> str:
    """conda-build's long host prefix, padded with ``_placehold`` to 255 chars."""
    base = f"{BUILD_ROOT}/{name}_{timestamp_ms:013d}/_h_env"
    padded = base + "_placehold" * (PLACEHOLDER_LENGTH // len("_placehold") + 1)
    return padded[:PLACEHOLDER_LENGTH]


def build_folder(name: str, timestamp_ms: int) -> str:
    """Return the build folder that holds the placeholder prefix and the work dir."""
    return f"{BUILD_ROOT}/{name}_{timestamp_ms:013d}"


def conda_hash(hash_input: dict[str, str]) -> str:
    """conda-build's ``h`` + 7 hex digits of sha1 over the sorted variant."""
    digest = hashlib.sha1(
        json.dumps(hash_input, sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()
    return "h" + digest[:7]


def render(template: Path, values: dict[str, str]) -> str:
    """Replace ``@KEY@`` markers in a template file."""
    text = template.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = re.search(r"@[A-Z_]+@", text)
    if leftover:
        raise BuildError(f"{template}: unreplaced marker {leftover.group(0)}")
    return text


def write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write a staged file with the given permission bits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    path.chmod(mode)


def symlink(path: Path, target: str) -> None:
    """Create a relative symlink ``path -> target``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def soname_chain(libdir: Path, stem: str, soname_version: str, full_version: str) -> None:
    """``lib<stem>.so -> lib<stem>.so.<major> -> lib<stem>.so.<full>``."""
    symlink(libdir / f"{stem}.so.{soname_version}", f"{stem}.so.{full_version}")
    symlink(libdir / f"{stem}.so", f"{stem}.so.{soname_version}")


def json_text(obj: object) -> str:
    """conda-build's JSON style: sorted keys, two-space indent, no final newline."""
    return json.dumps(obj, indent=2, sort_keys=True)


def record_hash(data: bytes) -> str:
    """Return the ``sha256=`` value of a wheel RECORD line."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def load_recipe(name: str) -> dict[str, Any]:
    """Read ``recipes/<name>/recipe.json``."""
    data: dict[str, Any] = json.loads((RECIPES_DIR / name / "recipe.json").read_text())
    return data


# --------------------------------------------------------------------------
# toolchain


def tool_version(tool: str) -> str:
    """``gcc -dumpfullversion`` and friends."""
    out = subprocess.run([tool, "-dumpfullversion"], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def pyenv_root() -> Path | None:
    """Return the pyenv root, if pyenv is around."""
    env = os.environ.get("PYENV_ROOT")
    if env:
        return Path(env)
    exe = shutil.which("pyenv")
    if exe:
        out = subprocess.run([exe, "root"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    default = Path.home() / ".pyenv"
    return default if default.is_dir() else None


@dataclass(frozen=True)
class PythonHeaders:
    """Where the CPython headers of one minor version live."""

    minor: str
    full_version: str
    include: Path


def find_python_headers(minor: str) -> PythonHeaders | None:
    """Find an interpreter for ``minor`` (pyenv first, then PATH) and its headers."""
    candidates: list[Path] = []
    root = pyenv_root()
    if root is not None:

        def micro(p: Path) -> int:
            tail = p.name.split(".")[-1]
            return int(tail) if tail.isdigit() else -1

        versions = sorted((root / "versions").glob(f"{minor}.*"), key=micro, reverse=True)
        candidates += [v / "bin" / f"python{minor}" for v in versions]
    which = shutil.which(f"python{minor}")
    if which:
        candidates.append(Path(which))
    query = (
        "import platform, sysconfig; "
        "print(platform.python_version()); print(sysconfig.get_paths()['include'])"
    )
    for exe in candidates:
        if not exe.exists():
            continue
        out = subprocess.run([str(exe), "-c", query], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            continue
        full, include = out.stdout.split("\n")[:2]
        if (Path(include) / "Python.h").is_file():
            return PythonHeaders(minor, full, Path(include))
    return None


def current_toolchain() -> dict[str, Any]:
    """Describe what the channel's bytes depend on: compilers, C library, Python headers."""
    pythons: dict[str, str | None] = {}
    for minor in PYTHON_VERSIONS:
        headers = find_python_headers(minor)
        pythons[minor] = headers.full_version if headers else None
    return {
        "gcc": tool_version("gcc"),
        "g++": tool_version("g++"),
        "glibc": os.confstr("CS_GNU_LIBC_VERSION"),
        "python_headers": pythons,
    }


# --------------------------------------------------------------------------
# package assembly


@dataclass
class Package:
    """One conda package being assembled in ``prefix``."""

    name: str
    version: str
    build: str
    build_number: int
    timestamp: int
    fmt: str
    recipe: dict[str, Any]
    prefix: Path
    depends: list[str]
    constrains: list[str] = field(default_factory=list)
    noarch_python: bool = False
    run_exports: dict[str, list[str]] | None = None
    hash_input: dict[str, str] | None = None
    entry_points: list[str] = field(default_factory=list)

    @property
    def dist(self) -> str:
        """``<name>-<version>-<build>``."""
        return f"{self.name}-{self.version}-{self.build}"

    @property
    def subdir(self) -> str:
        """``noarch`` or ``linux-64``."""
        return "noarch" if self.noarch_python else "linux-64"

    @property
    def placeholder(self) -> str:
        """The prefix placeholder this package was built with."""
        return placeholder(self.name, self.timestamp - FOLDER_TIMESTAMP_LEAD_MS)

    @property
    def build_folder(self) -> str:
        """The conda-build folder of this package."""
        return build_folder(self.name, self.timestamp - FOLDER_TIMESTAMP_LEAD_MS)


def payload_members(prefix: Path) -> list[str]:
    """List files and symlinks under ``prefix`` as sorted relative paths."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(prefix):
        base = Path(dirpath)
        names = filenames + [d for d in dirnames if (base / d).is_symlink()]
        found.extend((base / name).relative_to(prefix).as_posix() for name in names)
    return sorted(found)


def paths_entries(pkg: Package) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the ``paths.json`` entries and the ``has_prefix`` lines of a package.

    Softlinks carry the sha256 and size of the file they resolve to.  A file
    that contains the placeholder is ``binary`` if it has a NUL byte, else
    ``text``, which is how conda-build classifies them.
    """
    paths: list[dict[str, Any]] = []
    has_prefix: list[str] = []
    ph = pkg.placeholder.encode()
    for rel in payload_members(pkg.prefix):
        path = pkg.prefix / rel
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(pkg.prefix.resolve()) or not target.is_file():
                raise BuildError(f"{pkg.dist}: dangling or external symlink {rel}")
            data = target.read_bytes()
            entry: dict[str, Any] = {"_path": rel, "path_type": "softlink"}
        else:
            data = path.read_bytes()
            entry = {"_path": rel, "path_type": "hardlink"}
            if ph in data:
                mode = "binary" if b"\0" in data else "text"
                entry["file_mode"] = mode
                entry["prefix_placeholder"] = pkg.placeholder
                has_prefix.append(f"{pkg.placeholder} {mode} {rel}\n")
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry["size_in_bytes"] = len(data)
        paths.append(entry)
    return paths, has_prefix


def index_json(pkg: Package) -> dict[str, Any]:
    """Return the package's ``index.json``."""
    index: dict[str, Any] = {
        "arch": None if pkg.noarch_python else "x86_64",
        "build": pkg.build,
        "build_number": pkg.build_number,
        "depends": sorted(pkg.depends),
        "license": pkg.recipe["license"],
        "name": pkg.name,
        "platform": None if pkg.noarch_python else "linux",
        "subdir": pkg.subdir,
        "timestamp": pkg.timestamp,
        "version": pkg.version,
    }
    if pkg.constrains:
        index["constrains"] = sorted(pkg.constrains)
    if "license_family" in pkg.recipe:
        index["license_family"] = pkg.recipe["license_family"]
    if pkg.noarch_python:
        index["noarch"] = "python"
    return index


def about_json(pkg: Package) -> dict[str, Any]:
    """Return the package's ``about.json``."""
    about = dict(CONDA_ABOUT_DEFAULTS)
    about.update(pkg.recipe["about"])
    about["license"] = pkg.recipe["license"]
    about["license_file"] = "LICENSE"
    if "license_family" in pkg.recipe:
        about["license_family"] = pkg.recipe["license_family"]
    return about


def info_files(pkg: Package) -> dict[str, bytes]:
    """Return everything under ``info/``, as conda-build writes it."""
    paths, has_prefix = paths_entries(pkg)
    members = payload_members(pkg.prefix)
    files: dict[str, bytes] = {
        "info/about.json": json_text(about_json(pkg)).encode(),
        "info/files": "".join(f"{m}\n" for m in members).encode(),
        "info/index.json": json_text(index_json(pkg)).encode(),
        "info/licenses/LICENSE": LICENSE_FILE.read_bytes(),
        "info/paths.json": json_text({"paths": paths, "paths_version": 1}).encode(),
    }
    if has_prefix:
        files["info/has_prefix"] = "".join(has_prefix).encode()
    if pkg.hash_input is not None:
        files["info/hash_input.json"] = json_text(pkg.hash_input).encode()
    if pkg.run_exports:
        files["info/run_exports.json"] = json.dumps(pkg.run_exports, sort_keys=True).encode()
    if pkg.noarch_python:
        noarch: dict[str, Any] = {"type": "python"}
        if pkg.entry_points:
            noarch["entry_points"] = pkg.entry_points
        link = {"noarch": noarch, "package_metadata_version": 1}
        files["info/link.json"] = json_text(link).encode()
    return files


def tar_archive(entries: list[tuple[str, Path | bytes]], mtime: int) -> bytes:
    """Return an uncompressed tar of ``entries`` (name, file on disk or bytes), in order.

    Members get a fixed mtime, uid/gid 0 and empty owner names; symlinks stay
    symlinks.  No directory members, like conda-build's archives.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, source in entries:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if isinstance(source, bytes):
                info.mode = 0o644
                info.size = len(source)
                tar.addfile(info, io.BytesIO(source))
            elif source.is_symlink():
                info.type = tarfile.SYMTYPE
                info.linkname = str(source.readlink())
                info.mode = 0o777
                tar.addfile(info)
            else:
                data = source.read_bytes()
                info.mode = 0o755 if os.access(source, os.X_OK) else 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_member(name: str, epoch: int) -> zipfile.ZipInfo:
    """Return a ZIP_STORED member with a fixed date (ZipFile.writestr would use now)."""
    stamp = dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)
    info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    return info


def pack(pkg: Package, out_dir: Path, epoch: int) -> Path:
    """Write ``<dist>.tar.bz2`` or ``<dist>.conda`` into ``out_dir``.

    conda-package-streaming's ``conda_builder`` and conda-package-handling's
    ``api.create`` stamp the ZIP members with the current time and add files
    with their on-disk mtimes, so the archives are written here directly with
    tarfile/zipfile/zstandard and fixed timestamps.
    """
    info = sorted(info_files(pkg).items())
    payload: list[tuple[str, Path | bytes]] = [
        (rel, pkg.prefix / rel) for rel in payload_members(pkg.prefix)
    ]
    info_entries: list[tuple[str, Path | bytes]] = [(n, d) for n, d in info]
    out_dir.mkdir(parents=True, exist_ok=True)
    if pkg.fmt == "tar.bz2":
        target = out_dir / f"{pkg.dist}.tar.bz2"
        tar = tar_archive(info_entries + payload, epoch)
        target.write_bytes(bz2.compress(tar, compresslevel=9))
    elif pkg.fmt == "conda":
        target = out_dir / f"{pkg.dist}.conda"
        cctx = zstandard.ZstdCompressor(level=19)
        pkg_zst = cctx.compress(tar_archive(payload, epoch))
        info_zst = cctx.compress(tar_archive(info_entries, epoch))
        metadata = json.dumps({"conda_pkg_format_version": 2}).encode()
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(zip_member("metadata.json", epoch), metadata)
            zf.writestr(zip_member(f"pkg-{pkg.dist}.tar.zst", epoch), pkg_zst)
            zf.writestr(zip_member(f"info-{pkg.dist}.tar.zst", epoch), info_zst)
    else:
        raise BuildError(f"{pkg.dist}: unknown format {pkg.fmt!r}")
    return target


# --------------------------------------------------------------------------
# compiling


class Compiler:
    """gcc/g++ invocations with reproducible settings."""

    def __init__(self, work: Path, epoch: int) -> None:
        self.work = work
        self.env = dict(os.environ, LC_ALL="C", SOURCE_DATE_EPOCH=str(epoch))
        self.maps = [
            f"-ffile-prefix-map={RECIPES_DIR}=.",
            f"-ffile-prefix-map={work}=.",
            f"-fdebug-prefix-map={RECIPES_DIR}=.",
            f"-fdebug-prefix-map={work}=.",
        ]

    def run(self, cmd: list[str]) -> None:
        """Run a compiler command, raising BuildError with its output on failure."""
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"command failed: {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")

    def compile(self, source: Path, obj: Path, *, cxx: bool, flags: list[str]) -> None:
        """Compile one source file to an object file."""
        obj.parent.mkdir(parents=True, exist_ok=True)
        tool = "g++" if cxx else "gcc"
        base = CXXFLAGS if cxx else CFLAGS
        self.run([tool, *base, *self.maps, *flags, "-c", str(source), "-o", str(obj)])

    def link(
        self,
        objects: list[Path],
        output: Path,
        *,
        cxx: bool,
        shared: bool,
        soname: str | None = None,
        rpath: str | None = None,
        libs: list[str] | None = None,
    ) -> None:
        """Link objects into an executable or a shared library."""
        output.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["g++" if cxx else "gcc", *LDFLAGS]
        if shared:
            cmd.append("-shared")
        if soname:
            cmd.append(f"-Wl,-soname,{soname}")
        if rpath:
            cmd.append(f"-Wl,-rpath,{rpath}")
        cmd += [str(o) for o in objects]
        cmd += libs or []
        cmd += ["-o", str(output)]
        self.run(cmd)
        output.chmod(0o755)


# --------------------------------------------------------------------------
# package kinds


@dataclass
class Context:
    """State shared by the package builders."""

    work: Path
    out: Path
    epoch: int
    cc: Compiler
    prefixes: dict[tuple[str, str], Path] = field(default_factory=dict)
    built: list[Path] = field(default_factory=list)

    def new_package(self, recipe: dict[str, Any], variant: dict[str, Any], build: str) -> Package:
        """Start a package with an empty staging prefix."""
        name = recipe["name"]
        prefix = self.work / "stage" / f"{name}-{variant['version']}-{build}"
        prefix.mkdir(parents=True)
        return Package(
            name=name,
            version=variant["version"],
            build=build,
            build_number=variant["build_number"],
            timestamp=variant["timestamp"],
            fmt=variant["format"],
            recipe=recipe,
            prefix=prefix,
            depends=list(variant["depends"]),
            constrains=list(variant.get("constrains", [])),
            run_exports=variant.get("run_exports"),
        )

    def finish(self, pkg: Package) -> None:
        """Pack a staged package into the channel."""
        self.prefixes[(pkg.name, pkg.version)] = pkg.prefix
        target = pack(pkg, self.out / pkg.subdir, self.epoch)
        self.built.append(target)
        print(f"{pkg.subdir}/{target.name}  {target.stat().st_size} bytes")

    def objdir(self, pkg: Package) -> Path:
        """Directory for a package's object files."""
        path = self.work / "obj" / pkg.dist
        path.mkdir(parents=True, exist_ok=True)
        return path


def native_build_string(
    recipe: dict[str, Any], variant: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """``h<hash>_<n>`` from the recipe's hash input."""
    hash_input = dict(recipe["hash_input"])
    return f"{conda_hash(hash_input)}_{variant['build_number']}", hash_input


def build_libgreet(ctx: Context, recipe: dict[str, Any]) -> None:
    """Build libgreet 1.x and 2.x from one source tree."""
    src = RECIPES_DIR / "libgreet" / "src"
    for variant in recipe["variants"]:
        build, hash_input = native_build_string(recipe, variant)
        pkg = ctx.new_package(recipe, variant, build)
        pkg.hash_input = hash_input
        version = pkg.version
        major = version.split(".")[0]
        values = {"GREET_VERSION": version, "GREET_VERSION_MAJOR": major, "PREFIX": pkg.placeholder}
        p = pkg.prefix
        write(p / "include" / "greet.h", render(src / "greet.h.in", values))
        write(p / "share" / "libgreet" / "greeting.txt", render(src / "greeting.txt.in", values))
        write(p / "lib" / "pkgconfig" / "libgreet.pc", render(src / "libgreet.pc.in", values))
        write(p / "bin" / "greet-config", render(src / "greet-config.in", values), 0o755)

        obj = ctx.objdir(pkg)
        flags = [
            f"-I{p / 'include'}",
            f'-DGREET_PREFIX="{pkg.placeholder}"',
            f'-DGREET_VERSION="{version}"',
        ]
        ctx.cc.compile(src / "greet.c", obj / "greet.o", cxx=False, flags=flags)
        ctx.cc.link(
            [obj / "greet.o"],
            p / "lib" / f"libgreet.so.{version}",
            cxx=False,
            shared=True,
            soname=f"libgreet.so.{major}",
        )
        soname_chain(p / "lib", "libgreet", major, version)
        ctx.cc.compile(
            src / "greet_main.c", obj / "greet_main.o", cxx=False, flags=[f"-I{p / 'include'}"]
        )
        ctx.cc.link(
            [obj / "greet_main.o"],
            p / "bin" / "greet",
            cxx=False,
            shared=False,
            rpath="$ORIGIN/../lib",
            libs=[f"-L{p / 'lib'}", "-lgreet"],
        )
        ctx.finish(pkg)


def build_libgreetpp(ctx: Context, recipe: dict[str, Any]) -> None:
    """Build libgreetpp, a C++ library on top of libgreet 1.x."""
    src = RECIPES_DIR / "libgreetpp" / "src"
    for variant in recipe["variants"]:
        build, hash_input = native_build_string(recipe, variant)
        pkg = ctx.new_package(recipe, variant, build)
        pkg.hash_input = hash_input
        greet = ctx.prefixes[("libgreet", variant["libgreet"])]
        version = pkg.version
        major = version.split(".")[0]
        p = pkg.prefix
        write(p / "include" / "greetpp.h", (src / "greetpp.h").read_bytes())
        pc = render(src / "libgreetpp.pc.in", {"PREFIX": pkg.placeholder})
        write(p / "lib" / "pkgconfig" / "libgreetpp.pc", pc)

        obj = ctx.objdir(pkg)
        ctx.cc.compile(
            src / "greetpp.cpp", obj / "greetpp.o", cxx=True, flags=[f"-I{greet / 'include'}"]
        )
        ctx.cc.link(
            [obj / "greetpp.o"],
            p / "lib" / f"libgreetpp.so.{version}",
            cxx=True,
            shared=True,
            soname=f"libgreetpp.so.{major}",
            rpath="$ORIGIN/.",
            libs=[f"-L{greet / 'lib'}", "-lgreet"],
        )
        soname_chain(p / "lib", "libgreetpp", major, version)
        ctx.finish(pkg)


def dist_info(
    site: Path,
    recipe: dict[str, Any],
    version: str,
    *,
    folder: str,
    wheel_tag: str,
    purelib: bool,
    top_level: str,
    extra_record: dict[str, str],
) -> None:
    """Write a pip-installed ``.dist-info`` as conda-forge packages ship it.

    ``extra_record`` maps RECORD paths to their ``hash,size`` part for files
    RECORD names but the package does not ship exactly as recorded.
    """
    name = recipe["pypi_name"]
    di = site / f"{name}-{version}.dist-info"
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {recipe['metadata_summary']}",
        "Home-page: https://github.com/condapress/condapress",
        "Author: The condapress fixture authors",
        "License: MIT",
        "Classifier: License :: OSI Approved :: MIT License",
        "Classifier: Programming Language :: Python :: 3",
        f"Requires-Python: {recipe['requires_python']}",
        "Description-Content-Type: text/markdown",
        *[f"Requires-Dist: {req}" for req in recipe["requires_dist"]],
        "",
        f"# {name}",
        "",
        recipe["about"]["description"].replace("\n", " ").strip(),
        "",
    ]
    write(di / "METADATA", "\n".join(lines))
    write(di / "INSTALLER", "conda")
    write(di / "REQUESTED", "")
    url = {"dir_info": {}, "url": f"file://{folder}/work"}
    write(di / "direct_url.json", json.dumps(url))
    write(di / "top_level.txt", top_level + "\n")
    wheel = [
        "Wheel-Version: 1.0",
        "Generator: bdist_wheel (0.42.0)",
        f"Root-Is-Purelib: {'true' if purelib else 'false'}",
        f"Tag: {wheel_tag}",
        "",
        "",
    ]
    write(di / "WHEEL", "\n".join(wheel))
    if recipe.get("entry_points"):
        eps = "[console_scripts]\n" + "".join(f"{ep}\n" for ep in recipe["entry_points"]) + "\n"
        write(di / "entry_points.txt", eps)

    record: dict[str, str] = {}
    for rel in payload_members(site):
        if rel.startswith((f"{top_level}/", f"{di.name}/")):
            data = (site / rel).read_bytes()
            record[rel] = f"{record_hash(data)},{len(data)}"
    record.update(extra_record)
    record[f"{di.name}/RECORD"] = ","
    write(di / "RECORD", "".join(f"{path},{rest}\n" for path, rest in sorted(record.items())))


def build_extension(
    ctx: Context,
    recipe: dict[str, Any],
    variant: dict[str, Any],
    *,
    cxx: bool,
    includes: list[Path],
    libs: list[str],
) -> None:
    """Build one variant of a CPython extension package ``<name>._<name>``.

    The package ships ``<name>/__init__.py`` and the extension under
    ``lib/python3.X/site-packages`` with RPATH ``$ORIGIN/../../..``, plus the
    dist-info pip wrote, whose RECORD keeps the extension's first build.
    """
    name = recipe["name"]
    src = RECIPES_DIR / name / "src"
    minor = variant["python"]
    nodot = minor.replace(".", "")
    headers = find_python_headers(minor)
    if headers is None:
        raise BuildError(f"no CPython {minor} headers found (pyenv or python{minor} on PATH)")
    hash_input = dict(recipe["hash_input"], python=f"{minor}.* *_cpython")
    build = f"py{nodot}{conda_hash(hash_input)}_{variant['build_number']}"
    pkg = ctx.new_package(recipe, variant, build)
    pkg.hash_input = hash_input
    site = pkg.prefix / "lib" / f"python{minor}" / "site-packages"
    write(site / name / "__init__.py", (src / name / "__init__.py").read_bytes())

    obj = ctx.objdir(pkg)
    module = f"_{name}"
    flags = [f"-I{headers.include}", *[f"-I{include}" for include in includes]]
    source = src / f"{module}.{'cpp' if cxx else 'c'}"
    ctx.cc.compile(source, obj / f"{module}.o", cxx=cxx, flags=flags)
    ext = site / name / f"{module}{variant['ext_suffix']}"
    # What pip installed first: linked with conda-forge's -Wl,-rpath,$PREFIX/lib.
    # conda-build then rewrote the RPATH to $ORIGIN/../../.. after pip had
    # written RECORD, so RECORD keeps the hash and size of this first build.
    pip_built = obj / ext.name
    ctx.cc.link(
        [obj / f"{module}.o"],
        pip_built,
        cxx=cxx,
        shared=True,
        rpath=f"{pkg.placeholder}/lib",
        libs=libs,
    )
    ctx.cc.link(
        [obj / f"{module}.o"], ext, cxx=cxx, shared=True, rpath="$ORIGIN/../../..", libs=libs
    )
    pip_data = pip_built.read_bytes()
    rel_ext = f"{name}/{ext.name}"
    dist_info(
        site,
        recipe,
        pkg.version,
        folder=pkg.build_folder,
        wheel_tag=f"cp{nodot}-cp{nodot}-linux_x86_64",
        purelib=False,
        top_level=name,
        extra_record={rel_ext: f"{record_hash(pip_data)},{len(pip_data)}"},
    )
    ctx.finish(pkg)


def build_pygreet(ctx: Context, recipe: dict[str, Any]) -> None:
    """Build pygreet for each Python: a C++ extension module linked to libgreetpp."""
    greetpp = ctx.prefixes[("libgreetpp", "1.0.0")]
    greet = ctx.prefixes[("libgreet", "1.0.0")]
    for variant in recipe["variants"]:
        build_extension(
            ctx,
            recipe,
            variant,
            cxx=True,
            includes=[greetpp / "include", greet / "include"],
            libs=[f"-L{greetpp / 'lib'}", "-lgreetpp", f"-Wl,-rpath-link,{greet / 'lib'}"],
        )


def build_pyshout(ctx: Context, recipe: dict[str, Any]) -> None:
    """Build pyshout for each Python: a C extension module linked to libgreet 2 directly."""
    for variant in recipe["variants"]:
        greet = ctx.prefixes[("libgreet", variant["libgreet"])]
        build_extension(
            ctx,
            recipe,
            variant,
            cxx=False,
            includes=[greet / "include"],
            libs=[f"-L{greet / 'lib'}", "-lgreet"],
        )


def console_script(prefix_placeholder: str, entry_point: str) -> bytes:
    """Return the console script pip writes for ``name = module:func``."""
    module, func = entry_point.split("=", 1)[1].strip().split(":")
    return (
        f"#!{prefix_placeholder}/bin/python\n"
        "# -*- coding: utf-8 -*-\n"
        "import re\n"
        "import sys\n"
        f"from {module} import {func}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({func}())\n"
    ).encode()


def build_noarch_python(ctx: Context, recipe: dict[str, Any]) -> None:
    """Build a ``noarch: python`` package (payload under ``site-packages/``)."""
    src = RECIPES_DIR / recipe["name"] / "src"
    for variant in recipe["variants"]:
        pkg = ctx.new_package(recipe, variant, variant["build"])
        pkg.noarch_python = True
        pkg.entry_points = list(recipe["entry_points"])
        pkg.hash_input = dict(recipe["hash_input"])
        site = pkg.prefix / "site-packages"
        top = recipe["pypi_name"]
        modules = sorted(p.name for p in (src / top).glob("*.py"))
        for module in modules:
            write(site / top / module, (src / top / module).read_bytes())
        # RECORD as pip wrote it while building: it lists the byte-compiled
        # files and the console scripts, which conda-build drops from noarch
        # packages (conda compiles and creates them at install time).
        tag = "cpython-" + recipe["build_python"].replace(".", "")
        extra = {f"{top}/__pycache__/{m[:-3]}.{tag}.pyc": "," for m in modules}
        for ep in recipe["entry_points"]:
            script = console_script(pkg.placeholder, ep)
            extra[f"../../../bin/{ep.split('=')[0].strip()}"] = (
                f"{record_hash(script)},{len(script)}"
            )
        dist_info(
            site,
            recipe,
            pkg.version,
            folder=pkg.build_folder,
            wheel_tag="py3-none-any",
            purelib=True,
            top_level=top,
            extra_record=extra,
        )
        ctx.finish(pkg)


def build_tally(ctx: Context, recipe: dict[str, Any]) -> None:
    """Build tally: a native library and executable, no Python, no placeholder."""
    src = RECIPES_DIR / "tally" / "src"
    for variant in recipe["variants"]:
        build, hash_input = native_build_string(recipe, variant)
        pkg = ctx.new_package(recipe, variant, build)
        pkg.hash_input = hash_input
        version = pkg.version
        major = version.split(".")[0]
        p = pkg.prefix
        write(p / "include" / "tally.h", (src / "tally.h").read_bytes())
        obj = ctx.objdir(pkg)
        ctx.cc.compile(src / "tally.c", obj / "tally.o", cxx=False, flags=[f"-I{src}"])
        ctx.cc.link(
            [obj / "tally.o"],
            p / "lib" / f"libtally.so.{version}",
            cxx=False,
            shared=True,
            soname=f"libtally.so.{major}",
        )
        soname_chain(p / "lib", "libtally", major, version)
        ctx.cc.compile(src / "tally_main.c", obj / "tally_main.o", cxx=False, flags=[f"-I{src}"])
        ctx.cc.link(
            [obj / "tally_main.o"],
            p / "bin" / "tally",
            cxx=False,
            shared=False,
            rpath="$ORIGIN/../lib",
            libs=[f"-L{p / 'lib'}", "-ltally"],
        )
        ctx.finish(pkg)


def build_metadata(ctx: Context, recipe: dict[str, Any]) -> None:
    """Build metadata-only stand-ins: real index.json fields, empty payload."""
    for variant in recipe["variants"]:
        pkg = ctx.new_package(recipe, variant, variant["build"])
        ctx.finish(pkg)


# Build order matters: libgreetpp links libgreet, pygreet links libgreetpp, pyshout
# links libgreet 2.
RECIPE_ORDER = (
    "libgreet",
    "libgreetpp",
    "salutation-python",
    "pygreet",
    "pyshout",
    "tally",
    "python",
    "python_abi",
    "libgcc-ng",
    "libstdcxx-ng",
    "libgomp",
    "_libgcc_mutex",
    "_openmp_mutex",
)

BUILDERS = {
    "libgreet": build_libgreet,
    "libgreetpp": build_libgreetpp,
    "pygreet": build_pygreet,
    "pyshout": build_pyshout,
    "noarch_python": build_noarch_python,
    "tally": build_tally,
    "metadata": build_metadata,
}


# --------------------------------------------------------------------------
# channel


def clean_channel(out: Path) -> None:
    """Remove previously built archives and repodata from ``out``."""
    for subdir in SUBDIRS:
        directory = out / subdir
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            if path.name.endswith((".conda", ".tar.bz2")) or path.name.startswith("repodata"):
                path.unlink()


def index_channel(out: Path) -> None:
    """Write ``repodata.json`` with rattler and make it reproducible.

    rattler stamps every record with ``indexed_timestamp`` (the indexing
    time); those fields are removed so the file only depends on the archives.
    """
    before = {p for sub in SUBDIRS for p in (out / sub).iterdir()}
    asyncio.run(rattler.index.index_fs(out, write_zst=False, write_shards=False, force=True))
    for subdir in SUBDIRS:
        repodata = out / subdir / "repodata.json"
        data = json.loads(repodata.read_text())
        for key in ("packages", "packages.conda"):
            for record in data.get(key, {}).values():
                record.pop("indexed_timestamp", None)
        repodata.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    expected = before | {out / sub / "repodata.json" for sub in SUBDIRS}
    for sub in SUBDIRS:
        for path in (out / sub).iterdir():
            if path not in expected:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()


def build_channel(out: Path, epoch: int) -> list[Path]:
    """Build every recipe into ``out`` and index it; returns the archives."""
    out.mkdir(parents=True, exist_ok=True)
    for subdir in SUBDIRS:
        (out / subdir).mkdir(exist_ok=True)
    clean_channel(out)
    with tempfile.TemporaryDirectory(prefix="condapress-fixture-") as tmp:
        work = Path(tmp).resolve()
        ctx = Context(work=work, out=out, epoch=epoch, cc=Compiler(work, epoch))
        known = {p.parent.name for p in RECIPES_DIR.glob("*/recipe.json")}
        if known != set(RECIPE_ORDER):
            raise BuildError(
                f"recipes and RECIPE_ORDER disagree: {sorted(known ^ set(RECIPE_ORDER))}"
            )
        for name in RECIPE_ORDER:
            recipe = load_recipe(name)
            BUILDERS[recipe["kind"]](ctx, recipe)
    index_channel(out)
    return ctx.built


def channel_files(out: Path) -> dict[str, bytes]:
    """Read the archives and repodata of a channel, keyed by ``<subdir>/<name>``."""
    return {
        f"{sub}/{p.name}": p.read_bytes()
        for sub in SUBDIRS
        if (out / sub).is_dir()
        for p in sorted((out / sub).iterdir())
        if p.is_file()
    }


def check(out: Path, epoch: int) -> int:
    """Rebuild into a temporary directory and compare with ``out``."""
    with tempfile.TemporaryDirectory(prefix="condapress-fixture-check-") as tmp:
        fresh = Path(tmp) / "channel"
        build_channel(fresh, epoch)
        new, old = channel_files(fresh), channel_files(out)
    differing = sorted(k for k in new.keys() | old.keys() if new.get(k) != old.get(k))
    for name in differing:
        print(f"differs: {name}", file=sys.stderr)
    if differing:
        return 1
    print(f"{len(new)} files identical")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=FIXTURE_DIR, help="channel directory (default: %(default)s)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild in a temporary directory and compare with --out",
    )
    parser.add_argument(
        "--toolchain", action="store_true", help="print the current toolchain as JSON and exit"
    )
    args = parser.parse_args(argv)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH))

    if args.toolchain:
        print(json.dumps(current_toolchain(), indent=2, sort_keys=True))
        return 0
    for tool in ("gcc", "g++"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found on PATH", file=sys.stderr)
            return 2
    out = args.out.resolve()
    try:
        if args.check:
            return check(out, epoch)
        build_channel(out, epoch)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    toolchain = json.dumps(current_toolchain(), indent=2, sort_keys=True) + "\n"
    unchanged = TOOLCHAIN_FILE.exists() and TOOLCHAIN_FILE.read_text() == toolchain
    if out == FIXTURE_DIR.resolve():
        if not unchanged:  # rewriting it unchanged would only make it look newer than the build
            TOOLCHAIN_FILE.write_text(toolchain)
    elif not unchanged:
        print(
            f"note: toolchain differs from {TOOLCHAIN_FILE};"
            " archives will not match the committed ones"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
