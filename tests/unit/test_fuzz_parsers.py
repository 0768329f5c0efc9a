"""Fuzz the parsers that read outside input: any input gives a result or a condapress error.

Match specs and version constraints (``solve``, ``_versions``), repodata records (``fetch``, and
py-rattler's reading of a channel's ``repodata.json`` as ``solve.resolve`` converts it),
``index.json``, ``paths.json``, ``files`` and ``has_prefix`` (``_conda_meta``), a package's own
METADATA (``assemble.core_metadata_from_dist_info``, then written into a wheel) and the archive
readers themselves (``unpack.read_info``/``extract`` on damaged copies of a real package). Every
error must be a :class:`~condapress.errors.CondapressError` whose message is one printable line:
the CLI prints it after ``error:``, and input must not be able to forge other lines or drive the
terminal.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
import zipfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
import rattler
from hypothesis import HealthCheck, assume, event, example, given, reject, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from condapress import plan, solve
from condapress._paths import safe_name
from condapress._versions import pep440_version, translate_version_spec
from condapress.assemble import build_wheel
from condapress.assemble._metadata import core_metadata_from_dist_info
from condapress.errors import CondapressError, MetadataError, SpecError
from condapress.model import CoreMetadata, PackageInfo, SolveRequest, WheelContents
from condapress.solve._rattler import spec_name
from condapress.unpack import _conda_meta, extract, read_info
from condapress.unpack._fetch import fetch
from support import FIXTURE_CHANNEL
from support.factories import record

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

T = TypeVar("T")
#: Shared by every example of a test; nothing in them depends on what an earlier one left.
SCALE = int(os.environ.get("CONDAPRESS_FUZZ_SCALE", "1"))
FUZZ = settings(
    max_examples=150 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def note(what: str) -> None:
    """Count *what* in hypothesis's statistics (pytest --hypothesis-show-statistics)."""
    if currently_in_test_context():
        event(what)


def outcome(run: Callable[[], T], *, printable: bool = True) -> T | CondapressError:
    """Run *run*: its result, or the CondapressError it raised, checked to be one clean line."""
    try:
        result = run()
    except CondapressError as exc:
        error = exc
    else:
        note(type(result).__name__)
        return result
    note(f"{type(error).__name__}: {error.message[:50]}")
    assert error.message
    if printable:
        assert error.message.isprintable(), error.message
        assert error.hint.isprintable(), error.hint
    return error


# -- match specs and version constraints -------------------------------------------------------

SPEC_ALPHABET = string.ascii_letters + string.digits + " .,*|()<>=!~_-+[]'\":/@$#\\\t\n\x00é"
spec_text = st.text(st.sampled_from(SPEC_ALPHABET), max_size=40)
version_parts = st.lists(
    st.sampled_from(["1", "2", "0", "10", "a", "rc1", "dev", "post", "_", "-", ".", "*", "!"]),
    max_size=8,
).map("".join)
constraint = st.lists(
    st.tuples(
        st.sampled_from(["", "=", "==", "!=", ">", ">=", "<", "<=", "~=", " ", "("]),
        version_parts,
        st.sampled_from(["", ",", "|", ")", ".*", "*", " "]),
    ),
    max_size=4,
).map(lambda parts: "".join(a + b + c for a, b, c in parts))


@FUZZ
@given(text=spec_text | constraint.map(lambda c: f"pkg {c}"))
@example(text="pkg >=1.0 py3*")
@example(text="conda-forge::numpy[version='>=1.26',build=py311*]")
@example(text="numpy 1.26.*|>=2,<3")
def test_match_specs(text: str) -> None:
    # Printable messages: see test_a_match_spec_error_is_one_printable_line.
    result = outcome(lambda: spec_name(text), printable=False)
    if isinstance(result, str):
        # The name of a spec becomes part of a file name and a Requires-Dist line.
        assert result
        assert result == result.strip()
        assert "/" not in result


SPEC_HINT = "write specs the way conda does, for example 'numpy >=1.26' or 'pyarrow=0.14'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\n", "invalid match spec '\\n': missing package name"),
        (
            "pkg\x1b[2J >=1",
            (
                "invalid match spec 'pkg\\x1b[2J >=1': invalid package name 'pkg\\x1b[2J': "
                "'pkg\\x1b[2J' is not a valid package name. Package names can only contain "
                "0-9, a-z, A-Z, -, _, or ."
            ),
        ),
    ],
    ids=["newline", "escape"],
)
def test_a_match_spec_error_is_one_printable_line(text: str, message: str) -> None:
    error = outcome(lambda: spec_name(text))
    assert isinstance(error, SpecError)
    assert (error.message, error.hint) == (message, SPEC_HINT)


@FUZZ
@given(version=constraint | spec_text, build=st.none() | spec_text)
@example(version=">=1.2,<2.0a0", build="py310*")
@example(version="1.2|1.4", build=None)
@example(version="((1.2))", build=None)
def test_version_constraints(version: str, build: str | None) -> None:
    result = outcome(lambda: translate_version_spec(version, build))
    if not isinstance(result, CondapressError):
        SpecifierSet(result.specifier)  # what the Requires-Dist line will carry parses
        assert all(note.isprintable() for note in result.notes)


def test_an_excluded_prefix_of_a_prerelease_has_no_pep440_form() -> None:
    # packaging rejects '!=1.2a0.*'; it used to escape as InvalidSpecifier.
    error = outcome(lambda: translate_version_spec("!=1.2a0.*"))
    assert isinstance(error, CondapressError)
    assert error.message == (
        "cannot translate conda version constraint '!=1.2a0.*' to PEP 440: PEP 440 allows '.*'"
        " only after release numbers"
    )


@FUZZ
@given(text=spec_text | constraint.map(lambda c: f"dep {c}"))
def test_the_version_and_build_parts_of_dependencies(text: str) -> None:
    # How plan._requirement_text reads a dependency of a solved record.
    try:
        spec = rattler.MatchSpec(text)
    except rattler.exceptions.InvalidMatchSpecError:
        reject()  # the solver rejects it first (see test_repodata_records)
    version = str(spec.version) if spec.version is not None else None
    build = str(spec.build) if spec.build is not None else None
    result = outcome(lambda: translate_version_spec(version, build))
    if not isinstance(result, CondapressError):
        SpecifierSet(result.specifier)  # what the Requires-Dist line will carry parses
        assert all(note.isprintable() for note in result.notes)


@FUZZ
@given(text=version_parts | spec_text)
@example(text="1!2.0dev")
@example(text="1.0_1")
def test_versions(text: str) -> None:
    result = outcome(lambda: pep440_version(text))
    if isinstance(result, str):
        assert str(Version(result)) == result


# -- repodata records --------------------------------------------------------------------------

HEX64 = st.text("0123456789abcdef", min_size=64, max_size=64)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
GOOD_RECORD: dict[str, object] = {
    "name": "demo",
    "version": "1.0",
    "build": "h0_0",
    "build_number": 0,
    "depends": ["python >=3.8"],
    "license": "MIT",
    "sha256": "0" * 64,
    "md5": "0" * 32,
    "size": 1,
    "subdir": "linux-64",
    "timestamp": 1700000000000,
}
RECORD_VALUES: dict[str, st.SearchStrategy[object]] = {
    "name": st.sampled_from(["Demo", "de-mo", "demo.x", "", "../demo", "de mo", "démo", "d\x1b"]),
    "version": st.sampled_from(["1.0.0a0", "1_0", "", "1.0/2", "1.*", "1!2", "1.0+x", "a\nb"]),
    "build": st.sampled_from(["", "py311*", "a b", "h\x00", "h\x1b[31m"]),
    "build_number": st.integers(),
    "depends": st.lists(spec_text, max_size=3),
    "constrains": st.lists(spec_text, max_size=2),
    "noarch": st.sampled_from(["python", "generic", True, False, "perl"]),
    "sha256": st.text(max_size=70),
    "size": st.integers(),
    "subdir": st.sampled_from(["noarch", "osx-64", "nonsense"]),
    "timestamp": st.integers() | st.floats(),
    "track_features": st.text(max_size=10),
}
#: A good record with one to three fields replaced by something odd, or by any JSON value.
records = st.lists(
    st.sampled_from(sorted(RECORD_VALUES)).flatmap(
        lambda key: st.tuples(st.just(key), RECORD_VALUES[key] | json_values)
    ),
    min_size=1,
    max_size=3,
).map(lambda changes: {**GOOD_RECORD, **dict(changes)})


@settings(FUZZ, max_examples=40 * SCALE)
@given(record=records, file_name=st.sampled_from(["demo-1.0-h0_0.conda", "demo-1.0-h0_0.tar.bz2"]))
def test_repodata_records(
    record: dict[str, object], file_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A local channel whose repodata.json holds one hostile record; the solver reads it.
    channel = tmp_path_factory.mktemp("channel")
    for subdir in ("linux-64", "noarch"):
        (channel / subdir).mkdir()
        packages = {file_name: record} if subdir == "linux-64" else {}
        key = "packages.conda" if file_name.endswith(".conda") else "packages"
        repodata = {"info": {"subdir": subdir}, key: packages}
        (channel / subdir / "repodata.json").write_text(json.dumps(repodata))
    request = SolveRequest(specs=("demo",), channels=(str(channel),), cache_dir=channel / "cache")
    closure = outcome(lambda: solve.resolve(request))
    if isinstance(closure, CondapressError):
        return
    assert closure.roots == ("demo",)
    assert [r.name for r in closure.records] == ["demo"]
    the_plan = outcome(lambda: plan.plan(closure))  # the dependencies become Requires-Dist lines
    if not isinstance(the_plan, CondapressError):
        assert [d.record for d in the_plan.decisions] == list(closure.records)
    for found in closure.records:
        # The file does not exist: fetch must say so, or refuse the record, nothing else.
        assert isinstance(outcome(partial(fetch, found, channel / "cache")), CondapressError)


@FUZZ
@given(
    name=st.text(max_size=12),
    file_name=st.text(max_size=20) | st.sampled_from(["a.conda", "../a.conda", "a/.tar.bz2"]),
    url=st.sampled_from(["", "file:", "file:///", "ftp://h/x", "ftp://[::1", "//x", "a\x00b"])
    | st.text(max_size=30),
    sha256=st.none() | HEX64 | st.text(max_size=64),
    md5=st.none() | st.text(max_size=32),
    size=st.none() | st.integers(),
)
def test_records_to_fetch(
    name: str,
    file_name: str,
    url: str,
    sha256: str | None,
    md5: str | None,
    size: int | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Schemes that reach the network are left out: test_reliability covers them on loopback.
    assume(not url.lower().lstrip().startswith(("http:", "https:")))
    listed = record(name, "1", "0", sha256=sha256, md5=md5, size=size, url=url, file_name=file_name)
    cache = tmp_path_factory.mktemp("cache")
    found = outcome(lambda: fetch(listed, cache))
    assert not list(cache.iterdir())  # a local file is used in place; nothing enters the cache
    if isinstance(found, Path):
        assert found.is_file()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"url": "ftp://[::1/demo.conda"},
            "cannot fetch demo-1.0-h\\x1b[2J: 'ftp://[::1/demo.conda' is not a valid URL",
        ),
        ({"url": ""}, "cannot fetch demo-1.0-h\\x1b[2J: its record has no URL"),
        (
            {"url": "file:///no/such/demo\x1b.conda", "file_name": "demo.conda"},
            "cannot fetch demo.conda: /no/such/demo\\x1b.conda does not exist",
        ),
        (
            {"url": "gopher://host/\x1b.conda", "file_name": "demo.conda"},
            (
                "cannot fetch demo-1.0-h\\x1b[2J: unsupported URL scheme 'gopher' in"
                " gopher://host/\\x1b.conda"
            ),
        ),
    ],
    ids=["ipv6", "no-url", "missing", "scheme"],
)
def test_fetch_escapes_what_the_channel_wrote(
    changes: dict[str, str], message: str, tmp_path: Path
) -> None:
    url, file_name = changes.get("url", ""), changes.get("file_name", "")
    listed = record("demo", "1.0", "h\x1b[2J", url=url, file_name=file_name)
    error = outcome(lambda: fetch(listed, tmp_path))
    assert isinstance(error, CondapressError)
    assert error.message == message


# -- index.json, paths.json, files, has_prefix -------------------------------------------------

PATHS = st.sampled_from(
    ["lib/a.so", "lib/a.so", "bin/x", "/abs", "../up", "lib/../x", "info/index.json", "a\\b", "",
     "lib//a", "./a", "a\x00b", "lib/ä", "site-packages/m.py", "lib"]
)  # fmt: skip
paths_entry = st.fixed_dictionaries(
    {},
    optional={
        "_path": PATHS | json_values,
        "path_type": st.sampled_from(["hardlink", "softlink", "directory", "pyc_file", "x"])
        | json_values,
        "sha256": HEX64 | st.sampled_from(["F" * 64, "0" * 63]) | json_values,
        "size_in_bytes": st.integers() | st.booleans() | json_values,
        "prefix_placeholder": st.text(max_size=10) | json_values,
        "file_mode": st.sampled_from(["text", "binary", "octal"]) | json_values,
        "no_link": json_values,
    },
)
has_prefix_line = st.lists(
    st.sampled_from(['"', "'", " ", "text", "binary", "/opt/x", "lib/a.so", "a b", "\t", "\\"]),
    max_size=6,
).map("".join)


GOOD_INFO: dict[str, object] = {
    "info/index.json": {**GOOD_RECORD, "depends": ["libzlib >=1.2"]},
    "info/paths.json": {
        "paths_version": 1,
        "paths": [
            {"_path": "lib/a.so", "path_type": "hardlink", "sha256": "0" * 64, "size_in_bytes": 1},
            {"_path": "lib/b.so", "path_type": "softlink", "sha256": "0" * 64, "size_in_bytes": 1},
            {
                "_path": "bin/x",
                "path_type": "hardlink",
                "prefix_placeholder": "/opt/x",
                "file_mode": "text",
            },
        ],
    },
    "info/files": ["lib/a.so", "lib/b.so", "bin/x"],
    "info/has_prefix": ["/opt/x text bin/x"],
    "info/link.json": {"noarch": {"type": "python", "entry_points": ["a = b:c"]}},
    "info/run_exports.json": {"weak": ["demo >=1.0"]},
    "info/about.json": {"summary": "A demo"},
}
INFO_NAMES = sorted(GOOD_INFO)
index_change = st.tuples(
    st.just("index"),
    st.sampled_from([*sorted(RECORD_VALUES), "platform", "arch", "license"]),
    json_values | st.sampled_from(["../x", "a\x00", "python", "linux"]),
)
entry_change = st.tuples(st.just("entry"), st.integers(0, 3), paths_entry)
file_change = st.tuples(
    st.just("file"),
    st.sampled_from(INFO_NAMES),
    st.none()
    | json_values
    | st.binary(max_size=30)
    | st.tuples(st.integers(0, 80), st.binary(max_size=3)),
)
line_change = st.tuples(
    st.just("line"),
    st.sampled_from(["info/files", "info/has_prefix", "info/no_link"]),
    has_prefix_line | PATHS,
)


def changed_info(changes: list[tuple[str, object, object]]) -> dict[str, bytes]:
    """GOOD_INFO with *changes* applied, as the bytes of each file."""
    info = json.loads(json.dumps(GOOD_INFO))
    damaged: dict[str, object] = {}
    for kind, where, value in changes:
        if kind == "index":
            info.get("info/index.json", {})[where] = value
        elif kind == "entry":
            entries = info.get("info/paths.json", {"paths": []})["paths"]
            entries.insert(int(where), value)  # type: ignore[call-overload]
        elif kind == "line":
            info.setdefault(where, []).append(value)
        elif value is None:
            info.pop(where, None)
        else:
            damaged[str(where)] = value
    files: dict[str, bytes] = {}
    for name, value in info.items():
        text = "\n".join(value) if isinstance(value, list) and "." not in name[5:] else None
        files[name] = (text if text is not None else json.dumps(value)).encode()
    for name, value in damaged.items():
        if isinstance(value, bytes):
            files[name] = value
        elif isinstance(value, tuple):  # bytes inserted into the file at a position
            position, junk = value
            files[name] = files.get(name, b"")[:position] + junk + files.get(name, b"")[position:]
        else:
            files[name] = json.dumps(value).encode()
    return files


info_files = st.lists(
    st.one_of(index_change, entry_change, file_change, line_change), max_size=4
).map(changed_info)


def read_metadata(files: Mapping[str, bytes], licenses: list[str]) -> PackageInfo | CondapressError:
    result = outcome(lambda: _conda_meta.validate(_conda_meta.parse(files, licenses), "d.conda"))
    if isinstance(result, CondapressError):
        assert type(result) is MetadataError
        assert result.message.startswith("d.conda has invalid metadata: ")
        assert (result.package, result.path) == ("d.conda", "info/")
    return result


@settings(FUZZ, max_examples=400 * SCALE)
@given(files=info_files, licenses=st.lists(st.text(max_size=8), max_size=2))
def test_info_files(files: dict[str, bytes], licenses: list[str]) -> None:
    info = read_metadata(files, licenses)
    if isinstance(info, PackageInfo):
        record = info.record
        # Accepted metadata is safe to use as file and folder names, and paths stay inside.
        assert all(safe_name(v) for v in (record.name, record.version, record.build))
        for entry in info.paths:
            assert not entry.path.startswith(("/", "info/"))
            assert ".." not in entry.path.split("/")
        assert len({entry.path for entry in info.paths}) == len(info.paths)


@pytest.mark.parametrize(
    ("blob", "problem"),
    [
        (b"1" * 5000, "info/index.json is not valid JSON (a number in it has too many digits)"),
        (b"[" * 100_000, "info/index.json is not valid JSON (it is nested too deeply)"),
        (b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}", None),
        (b"[" * 33 + b"]" * 33, "info/index.json is nested more than 32 levels deep"),
        (b"[" * 32 + b"]" * 32, "info/index.json is not a JSON object"),
    ],
    ids=["long-number", "deep", "deep-value", "33-deep", "32-deep"],
)
def test_json_that_python_cannot_load(blob: bytes, problem: str | None) -> None:
    info = read_metadata({"info/index.json": blob, "info/paths.json": b'{"paths": []}'}, [])
    assert isinstance(info, MetadataError)
    if problem is not None:
        assert info.message.startswith(f"d.conda has invalid metadata: {problem}; ")


def test_values_in_messages_are_shortened() -> None:
    index = {"name": "x" * 10_000, "version": [[[[[["deep"]]]]]], "build": "0"}
    info = read_metadata({"info/index.json": json.dumps(index).encode()}, [])
    assert isinstance(info, MetadataError)
    assert len(info.message) < 1000
    assert info.detail is not None
    assert "x" * 10_000 not in info.detail


# -- METADATA ----------------------------------------------------------------------------------

FIELDS = [
    "Metadata-Version", "Name", "Version", "Summary", "Description", "Description-Content-Type",
    "Keywords", "Home-page", "Download-URL", "Author", "Author-email", "Maintainer",
    "Maintainer-email", "License", "License-Expression", "License-File", "Classifier",
    "Requires-Dist", "Requires-Python", "Project-URL", "Provides-Extra", "Platform",
    "Supported-Platform", "Dynamic", "X-Unknown", "Name ", "", ":",
]  # fmt: skip
value_text = st.lists(
    st.characters(codec="utf-8") | st.sampled_from(["\n", "\n ", "\n        ", ",", ";", "\r"]),
    max_size=30,
).map("".join)
metadata_text = st.lists(st.tuples(st.sampled_from(FIELDS), value_text), max_size=10).map(
    lambda fields: "".join(f"{key}: {value}\n" for key, value in fields)
)


@settings(FUZZ, max_examples=300 * SCALE)
@given(
    text=metadata_text
    | st.tuples(metadata_text, value_text).map(lambda t: f"{t[0]}\n{t[1]}")
    | st.text(max_size=200)
)
@example(text="Project-URL: a, b, https://x\n")
@example(text="Project-URL: nourl\n")
@example(text="Home-page: \x1b[31m\n")
@example(text="Summary: a\x00b\n")
@example(text="Keywords: a\x85b\n")
@example(text="Description-Content-Type: text/x-unknown\n")
def test_metadata(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    metadata = outcome(lambda: core_metadata_from_dist_info(text, name="demo", version="1.0"))
    if isinstance(metadata, CondapressError):
        return
    assert isinstance(metadata, CoreMetadata)
    assert (metadata.name, metadata.version) == ("demo", "1.0")
    # What the press does with it next: write it into a wheel.
    out = tmp_path_factory.mktemp("wheel")
    contents = WheelContents(
        metadata=metadata, tags=("py3-none-any",), root_is_purelib=True, files=()
    )
    wheel = outcome(lambda: build_wheel(contents, out))
    assert isinstance(wheel, CondapressError) or wheel.path.is_file()


def test_an_invalid_field_of_a_package_metadata_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "Metadata-Version: 2.1\nName: old\nVersion: 1.0\nRequires-Python: >=3.6.*\n"
    metadata = core_metadata_from_dist_info(text, name="old", version="1.0")
    assert (metadata.name, metadata.version, metadata.requires_python) == ("old", "1.0", None)
    assert caplog.messages == [
        "leaving out Requires-Python '>=3.6.*' from the package's METADATA: it is not valid"
    ]
    contents = WheelContents(
        metadata=metadata, tags=("py3-none-any",), root_is_purelib=True, files=()
    )
    with zipfile.ZipFile(build_wheel(contents, tmp_path).path) as wheel:
        written = wheel.read("old-1.0.dist-info/METADATA").decode()
    assert written == "Metadata-Version: 2.4\nName: old\nVersion: 1.0\n"


# -- archives ----------------------------------------------------------------------------------

ARCHIVES = [
    FIXTURE_CHANNEL / "linux-64" / "libgreetpp-1.0.0-h6712182_0.conda",
    FIXTURE_CHANNEL / "linux-64" / "libgreet-1.0.0-hd590300_0.tar.bz2",
]


def damage(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    damaged = bytearray(data)
    for position, value in edits:
        damaged[position % len(damaged)] = value
    return bytes(damaged[:cut] if cut is not None else damaged)


@settings(FUZZ, max_examples=120 * SCALE)
@given(
    which=st.sampled_from(range(len(ARCHIVES))),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=6),
    cut=st.none() | st.integers(0, 40_000),
)
@example(which=0, edits=[(4, 0)], cut=None)  # the zip's "version needed": nobody reads it
def test_damaged_archives(
    which: int,
    edits: list[tuple[int, int]],
    cut: int | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    source = ARCHIVES[which]
    data = damage(source.read_bytes(), edits, cut)
    assume(hashlib.sha256(data).digest() != hashlib.sha256(source.read_bytes()).digest())
    folder = tmp_path_factory.mktemp("archive")
    archive = folder / source.name
    archive.write_bytes(data)
    info = outcome(lambda: read_info(archive))
    unpacked = outcome(lambda: extract(archive, folder / "out"))
    if isinstance(unpacked, CondapressError):
        assert not (folder / "out").exists()  # nothing is left behind
        return
    # Damage that extract survives (zip padding, bytes no reader looks at) changed nothing that
    # paths.json vouches for: the package reads as the undamaged one, with every file listed.
    assert isinstance(info, PackageInfo)
    assert unpacked.info == info == read_info(source)
    written = (str(p.relative_to(unpacked.root)) for p in unpacked.root.rglob("*"))
    payload = sorted(path for path in written if not path.startswith("info/"))
    assert sorted(e.path for e in unpacked.info.paths) == [
        path for path in payload if not (unpacked.root / path).is_dir()
    ]


@given(st.text(alphabet=" \t\r\n\x0b\x0c\xa0#\\/\"'ab._-=:", max_size=24))
@example("/opt/_placehold text lib/x.so")
@example('"/opt/a b" binary "lib/my file"')
def test_has_prefix_lines_split_as_conda_splits_them(line: str) -> None:
    """The fast split of a has_prefix line is conda's (shlex, non-POSIX, quotes stripped)."""
    import shlex

    from condapress.unpack._conda_meta import _split_prefix_line

    try:
        conda = [part.strip("\"'") for part in shlex.split(line, posix=False)]
    except ValueError:
        conda = []
    assert _split_prefix_line(line) == conda
