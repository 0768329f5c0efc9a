"""Data paths: the table, the placeholder rewrite, the variables, the hook, the audit's verdicts."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import runpy
import zipfile
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from condapress import _datapaths
from condapress._datapaths import KnownPackage, Variable
from condapress.audit import audit_document, audit_wheel
from condapress.audit._datapaths import Judgement, Verdict, data_path_findings, judge
from condapress.errors import RelocationError
from condapress.formats.elf import ELF
from condapress.model import (
    DataPaths,
    EnvSetting,
    FileMode,
    Layout,
    PathEntry,
    PathType,
    PlaceholderSite,
    UnpackedPackage,
    WheelSpec,
)
from condapress.relocate import _hook, _with_environment
from condapress.relocate._layout import plan_layout
from support.factories import hardlink, record, softlink, unpacked, wheel_spec

PLACEHOLDER = "/home/conda/feedstock_root/build_artifacts/x_1/_h_env_placehold_placehold"


def package(root: Path, name: str, *entries: PathEntry) -> UnpackedPackage:
    archive = Path(f"{name}.conda")
    return unpacked(record(name, sha256="a" * 64), *entries, root=root / name, archive=archive)


# --- the table --------------------------------------------------------------------------------


def test_the_table_loads_into_frozen_dataclasses() -> None:
    table = _datapaths.table()
    assert table["ncurses"].variables == (Variable("TERMINFO", "share/terminfo"),)
    assert table["ca-certificates"].variables == (
        Variable("SSL_CERT_FILE", "ssl/cacert.pem", covers="ssl/cert.pem", at_import=False),
    )
    assert table["proj"].variables[0] == Variable("PROJ_DATA", "share/proj", aliases=("PROJ_LIB",))
    assert dict(table["tk"].found)["lib"].startswith("Tcl adds the folder above its script")
    assert dict(table["ncurses"].unreachable)["share/tabset"].startswith("terminfo entries")
    with pytest.raises(dataclasses.FrozenInstanceError):
        table["ncurses"].variables[0].name = "X"  # type: ignore[misc]


def test_every_table_entry_is_well_formed_and_its_data_stays_in_the_wheel(tmp_path: Path) -> None:
    raw = json.loads(files("condapress").joinpath("data/relocatable_env.json").read_text())
    assert raw["version"] == 1
    for name, entry in raw["packages"].items():
        assert set(entry) <= {"variables", "found", "unreachable", "relative", "doc"}, name
        # '*' holds for every package: notes only, never a variable
        assert entry.get("relative") or bool(entry.get("variables")) == (name != "*"), name
        for variable in entry.get("variables", []):
            assert set(variable) <= {"name", "path", "covers", "at_import", "aliases", "doc"}
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", variable["name"]), variable
            assert variable["doc"], variable
            # relocation keeps what the variable names (nothing under it is "documentation")
            concrete = re.sub(r"\[[^]]*\]", "8", variable["path"])
            pkg = package(tmp_path, name, hardlink(f"{concrete}/file"))
            layout = plan_layout(wheel_spec("w", name), {name: pkg}, {}, ELF)
            assert [p.dest for p in layout.placements] == [f"w.libs/{concrete}/file"], variable
        for reason in (*entry.get("found", {}).values(), *entry.get("unreachable", {}).values()):
            assert reason.strip(), name


def test_resolve_names_one_path_or_none() -> None:
    paths = ["lib/tcl8.6/init.tcl", "lib/tcl8/8.4/http.tm", "lib/tk8.6/tk.tcl"]
    assert _datapaths.resolve("lib/tcl[0-9].[0-9]", paths) == "lib/tcl8.6"
    assert _datapaths.resolve("lib/tk8.6/tk.tcl", paths) == "lib/tk8.6/tk.tcl"
    assert _datapaths.resolve("share/terminfo", paths) is None
    assert _datapaths.resolve("lib/t*", paths) is None  # three candidates: no guess


# --- the placeholder rewrite --------------------------------------------------------------------


def test_a_binary_placeholder_becomes_nowhere_padded_and_its_paths_are_reported() -> None:
    old = PLACEHOLDER.encode()
    data = (
        b"\x7fELF\0"
        + old
        + b"/share/terminfo\0"
        + b'OPENSSLDIR: "'
        + old
        + b'/ssl"\0'
        + old
        + b"/lib:/build/lib\0"
        + b"-I"
        + old
        + b"/include -I"
        + old
        + b"\0tail"
    )
    rpath = f"{PLACEHOLDER}/lib:/build/lib"
    new, paths = _datapaths.replace_placeholder(
        data, PLACEHOLDER, "/dev/null/condapress", FileMode.BINARY, (rpath,)
    )
    assert len(new) == len(data)
    assert old not in new
    assert [text for text in new.split(b"\0") if text][1:5] == [
        b"/dev/null/condapress/share/terminfo",
        b'OPENSSLDIR: "/dev/null/condapress/ssl"',
        b"/dev/null/condapress/lib:/build/lib",
        b"-I/dev/null/condapress/include -I/dev/null/condapress",
    ]
    assert new.endswith(b"\0tail")
    # the RPATH string is patchelf's business; "." is the prefix itself
    assert paths == (".", "include", "share/terminfo", "ssl")


def test_a_text_placeholder_becomes_nowhere() -> None:
    text = f"<dir>{PLACEHOLDER}/share/fonts</dir>\nprefix='{PLACEHOLDER}'\n".encode()
    new, paths = _datapaths.replace_placeholder(
        text, PLACEHOLDER, "/dev/null/condapress", FileMode.TEXT
    )
    assert new == b"<dir>/dev/null/condapress/share/fonts</dir>\nprefix='/dev/null/condapress'\n"
    assert paths == (".", "share/fonts")


def test_a_binary_placeholder_shorter_than_nowhere_is_refused(tmp_path: Path) -> None:
    pkg = package(tmp_path, "short", hardlink("lib/data.bin", "/opt/short"))
    with pytest.raises(RelocationError) as caught:
        plan_layout(wheel_spec("short-conda", "short"), {"short": pkg}, {}, ELF)
    assert caught.value.message == (
        "short.conda: lib/data.bin holds the build prefix '/opt/short' in a binary file, shorter "
        "than '/dev/null/condapress', which it must be rewritten to"
    )
    assert caught.value.hint == (
        "rebuild the package with conda-build's default prefix, whose placeholder is 255 "
        "characters long"
    )


def test_links_in_a_known_data_folder_are_copied_with_their_targets_placeholder(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ncurses"
    (root / "share/terminfo/v").mkdir(parents=True)
    (root / "share/terminfo/v/vt220").write_bytes(b"entry")
    (root / "share/terminfo/v/vt200").symlink_to("vt220")
    (root / "share/terminfo/d").mkdir()
    (root / "share/terminfo/d/dec-vt220").symlink_to("../v/vt200")  # a chain of links
    (root / "share/other").mkdir(parents=True)
    (root / "share/other/alias").symlink_to("../terminfo/v/vt220")
    pkg = package(
        tmp_path,
        "ncurses",
        hardlink("share/terminfo/v/vt220", PLACEHOLDER),
        softlink("share/terminfo/v/vt200"),
        softlink("share/terminfo/d/dec-vt220"),
        softlink("share/other/alias"),
    )
    layout = plan_layout(wheel_spec("nc", "ncurses"), {"ncurses": pkg}, {}, ELF)
    copies = {(p.source, p.dest, p.placeholder, p.file_mode) for p in layout.placements}
    assert copies == {
        (path, f"nc.libs/{path}", PLACEHOLDER, FileMode.BINARY)
        for path in (
            "share/terminfo/v/vt220",
            "share/terminfo/v/vt200",
            "share/terminfo/d/dec-vt220",
        )
    }
    assert [(left.path, left.reason) for left in layout.left_out] == [
        (
            "share/other/alias",
            "symbolic link (the wheel keeps one file per library, under its soname)",
        )
    ]


# --- the variables and the hook -----------------------------------------------------------------


def _press_layouts(
    tmp_path: Path, *, fat: bool
) -> tuple[list[WheelSpec], dict[str, Layout], dict[str, UnpackedPackage]]:
    packages = {
        "pyext": package(
            tmp_path, "pyext", hardlink("lib/python3.11/site-packages/pyext/__init__.py")
        ),
        "ncurses": package(tmp_path, "ncurses", hardlink("share/terminfo/x/xterm")),
        "openssl": package(tmp_path, "openssl", hardlink("ssl/openssl.cnf")),
    }
    if fat:
        wheels = [wheel_spec("pyext", "pyext", "ncurses", "openssl")]
    else:
        wheels = [
            wheel_spec("pyext", "pyext", wheel_dependencies=("ncurses-conda",)),
            wheel_spec("ncurses-conda", "ncurses", wheel_dependencies=("openssl-conda",)),
            wheel_spec("openssl-conda", "openssl"),
        ]
    layouts = {w.distribution: plan_layout(w, packages, {}, ELF) for w in wheels}
    return wheels, layouts, packages


def test_the_variables_of_a_fat_wheel_point_into_its_own_prefix(tmp_path: Path) -> None:
    wheels, layouts, packages = _press_layouts(tmp_path, fat=True)
    layout = _with_environment(wheels[0], wheels, layouts, packages, ELF)
    by_name = {s.name: s for s in layout.environment}
    assert by_name["TERMINFO"] == EnvSetting(
        "TERMINFO", "pyext.libs/share/terminfo", "share/terminfo", "ncurses", "pyext.libs"
    )
    assert by_name["OPENSSL_CONF"] == EnvSetting(
        "OPENSSL_CONF",
        "pyext.libs/ssl/openssl.cnf",
        "ssl/openssl.cnf",
        "openssl",
        "pyext.libs",
        at_import=False,
    )
    # the package does not ship them: recorded, never set
    assert by_name["OPENSSL_MODULES"].path is None
    assert by_name["SSL_CERT_DIR"].path is None
    assert layout.hooks == ("pyext/__init__.py",)


def test_a_split_wheel_points_at_the_data_of_the_wheels_it_requires(tmp_path: Path) -> None:
    wheels, layouts, packages = _press_layouts(tmp_path, fat=False)
    layout = _with_environment(wheels[0], wheels, layouts, packages, ELF)
    by_name = {s.name: (s.path, s.prefix) for s in layout.environment}
    assert by_name["TERMINFO"] == ("ncurses_conda.libs/share/terminfo", "ncurses_conda.libs")
    # through ncurses-conda, which requires openssl-conda
    assert by_name["OPENSSL_CONF"] == ("openssl_conda.libs/ssl/openssl.cnf", "openssl_conda.libs")
    assert layout.hooks == ("pyext/__init__.py",)
    native = _with_environment(wheels[2], wheels, layouts, packages, ELF)
    assert [s.name for s in native.environment if s.path] == ["OPENSSL_CONF"]
    assert native.hooks == ()  # no package to hook, and nothing is set at import


def test_no_hook_when_nothing_is_set_at_import(tmp_path: Path) -> None:
    packages = {
        "pyext": package(tmp_path, "pyext", hardlink("site-packages/pyext/__init__.py")),
        "tk": package(
            tmp_path, "tk", hardlink("lib/tcl8.6/init.tcl"), hardlink("lib/tk8.6/tk.tcl")
        ),
    }
    wheel = wheel_spec("pyext", "pyext", "tk")
    layouts = {"pyext": plan_layout(wheel, packages, {}, ELF)}
    layout = _with_environment(wheel, [wheel], layouts, packages, ELF)
    assert [(s.name, s.path, s.at_import) for s in layout.environment] == [
        ("TCL_LIBRARY", "pyext.libs/lib/tcl8.6", False),
        ("TK_LIBRARY", "pyext.libs/lib/tk8.6", False),
    ]
    assert layout.hooks == ()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (b"", b"{hook}"),
        (b"import os\n", b"{hook}import os\n"),
        (b'"""Doc."""\nimport os\n', b'"""Doc."""\n{hook}import os\n'),
        (
            (
                b"# -*- coding: latin-1 -*-\n'''Doc\non two lines.'''\n\nfrom __future__ import (\n"
                b"    annotations,\n)\nfrom __future__ import division\nx = 1\n"
            ),
            (
                b"# -*- coding: latin-1 -*-\n'''Doc\non two lines.'''\n\nfrom __future__ import (\n"
                b"    annotations,\n)\nfrom __future__ import division\n{hook}x = 1\n"
            ),
        ),
        (b'"""Doc."""', b'"""Doc."""\n{hook}'),
        (b"x = 1\n'''not a docstring'''\n", b"{hook}x = 1\n'''not a docstring'''\n"),
        (b"def broken(:\n", b"{hook}def broken(:\n"),
    ],
)
def test_the_hook_import_comes_first_after_the_docstring_and_future_imports(
    source: bytes, expected: bytes
) -> None:
    hook = b"from . import _condapress_env  # points bundled libraries at their data\n"
    result = _hook.with_hook_import(source)
    assert result == expected.replace(b"{hook}", hook)
    if b"broken" not in source:
        compile(result, "__init__.py", "exec")


def test_the_hook_sets_only_what_the_user_left_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = (
        EnvSetting("TERMINFO", "w.libs/share/terminfo", "share/terminfo", "ncurses", "w.libs"),
        EnvSetting(
            "PROJ_DATA", "w.libs/share/proj", "share/proj", "proj", "w.libs", aliases=("PROJ_LIB",)
        ),
        EnvSetting("GDAL_DATA", "w.libs/share/gdal", "share/gdal", "libgdal", "w.libs"),
        EnvSetting(
            "OPENSSL_CONF", "w.libs/ssl/openssl.cnf", "ssl", "openssl", "w.libs", at_import=False
        ),
        EnvSetting("MAGIC", None, "share/misc/magic", "libmagic", "w.libs"),
        EnvSetting("FONTCONFIG_PATH", "w.libs/etc/fonts", "etc/fonts", "fontconfig", "w.libs"),
    )
    for folder in ("share/terminfo", "share/proj", "share/gdal"):
        (tmp_path / "w.libs" / folder).mkdir(parents=True)
    (tmp_path / "pkg").mkdir()
    hook = tmp_path / "pkg" / "_condapress_env.py"
    hook.write_text(_hook.hook_source(settings))
    for name in ("TERMINFO", "PROJ_DATA", "GDAL_DATA", "OPENSSL_CONF", "MAGIC", "FONTCONFIG_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROJ_LIB", "/user/proj")  # an alias the user set
    monkeypatch.setenv("GDAL_DATA", "/user/gdal")
    runpy.run_path(str(hook))
    assert os.environ["TERMINFO"] == str(tmp_path / "w.libs" / "share" / "terminfo")
    assert "PROJ_DATA" not in os.environ
    assert os.environ["GDAL_DATA"] == "/user/gdal"
    assert "OPENSSL_CONF" not in os.environ  # launchers only
    assert "MAGIC" not in os.environ  # the package has no such data
    assert "FONTCONFIG_PATH" not in os.environ  # not installed there: left alone


# --- the record and the audit -------------------------------------------------------------------

ENVIRONMENT = (
    EnvSetting("TERMINFO", "w.libs/share/terminfo", "share/terminfo", "ncurses", "w.libs"),
    EnvSetting(
        "SSL_CERT_FILE", "w.libs/ssl/cacert.pem", "ssl/cert.pem", "ca-certificates", "w.libs"
    ),
    EnvSetting("OPENSSL_MODULES", None, "lib/ossl-modules", "openssl", "w.libs"),
    EnvSetting(
        "LIBGREET_DATADIR", "dep.libs/share/libgreet", "share/libgreet", "libgreet", "dep.libs"
    ),
)
KNOWN = KnownPackage(
    found=(("ssl", "OPENSSLDIR"), ("ssl/private", "keys")),
    unreachable=(("share/tabset", "tab stops"),),
)
CARRIED = {
    "w.libs",
    "w.libs/share",
    "w.libs/share/tabset",
    "w.libs/share/demo",
    "w.libs/share/demo/d.dat",
    "w",
}


@pytest.mark.parametrize(
    ("path", "known", "expected"),
    [
        (
            "share/terminfo",
            None,
            Judgement(Verdict.COVERED, "TERMINFO", "w.libs/share/terminfo", variable=True),
        ),
        (
            "share/terminfo/x",
            None,
            Judgement(Verdict.COVERED, "TERMINFO", "w.libs/share/terminfo", variable=True),
        ),
        (
            "ssl/cert.pem",
            None,
            Judgement(Verdict.COVERED, "SSL_CERT_FILE", "w.libs/ssl/cacert.pem", variable=True),
        ),
        ("lib/ossl-modules", None, Judgement(Verdict.UNSHIPPED, "OPENSSL_MODULES", variable=True)),
        ("ssl/private", KNOWN, Judgement(Verdict.COVERED, "ssl/private", "keys")),
        ("ssl", KNOWN, Judgement(Verdict.COVERED, "ssl", "OPENSSLDIR")),
        ("share/tabset/vt100", KNOWN, Judgement(Verdict.DEGRADED, "share/tabset", "tab stops")),
        ("share/tabset", None, Judgement(Verdict.UNREACHABLE, "share/tabset")),
        (
            "share/libgreet",  # in a wheel this one requires
            None,
            Judgement(
                Verdict.COVERED, "LIBGREET_DATADIR", "dep.libs/share/libgreet", variable=True
            ),
        ),
        (".", None, Judgement(Verdict.PREFIX, ".")),
        ("include", KNOWN, Judgement(Verdict.ABSENT, "include")),
    ],
)
def test_judge(path: str, known: KnownPackage | None, expected: Judgement) -> None:
    record = DataPaths("w.libs", ENVIRONMENT, ())
    assert judge(path, record, CARRIED, known) == expected


def _record(*sites: PlaceholderSite, environment: tuple[EnvSetting, ...] = ENVIRONMENT) -> str:
    return _datapaths.record_text(DataPaths("w.libs", environment, sites))


def test_the_record_reads_back_and_a_foreign_one_is_ignored() -> None:
    site = PlaceholderSite("w.libs/libx.so", "ncurses", FileMode.BINARY, ("share/terminfo",))
    text = _record(site)
    assert _datapaths.read_record(text) == DataPaths("w.libs", ENVIRONMENT, (site,))
    assert json.loads(text)["placeholder_becomes"] == "/dev/null/condapress"
    for foreign in ("", "{}", '{"prefix": 1, "environment": [{}], "sites": []}', "[1]"):
        assert data_path_findings(foreign, ["w.libs/libx.so"]) == []
    assert data_path_findings(None, []) == []


def test_every_data_path_finding_in_full() -> None:
    sites = (
        PlaceholderSite("w.libs/libtinfo.so", "ncurses", FileMode.BINARY, ("share/terminfo",)),
        PlaceholderSite("w.libs/libtinfow.so", "ncurses", FileMode.BINARY, ("share/terminfo",)),
        PlaceholderSite(
            "w.libs/share/terminfo/v/vt220", "ncurses", FileMode.BINARY, ("share/tabset/vt100",)
        ),
        PlaceholderSite(
            "w.libs/libcrypto.so",
            "openssl",
            FileMode.BINARY,
            (".", "lib/ossl-modules", "ssl", "ssl/cert.pem"),
        ),
        PlaceholderSite(
            "w.libs/libdemo.so",
            "demo",
            FileMode.BINARY,
            ("share/demo", "share/demo/d.dat", "include"),
        ),
        PlaceholderSite("w/config.py", "demo", FileMode.TEXT, ("share/demo",)),
        PlaceholderSite(
            "w.libs/gone.so", "demo", FileMode.BINARY, ("share/demo",)
        ),  # not in the wheel
    )
    environment = (
        *ENVIRONMENT,
        EnvSetting("TK_LIBRARY", "w.libs/lib/tk8.6", "lib/tk8.6", "tk", "w.libs"),
    )
    names = [
        "w.libs/libtinfo.so",
        "w.libs/libtinfow.so",
        "w.libs/share/terminfo/v/vt220",
        "w.libs/share/tabset/vt100",
        "w.libs/libcrypto.so",
        "w.libs/libdemo.so",
        "w.libs/share/demo/d.dat",
        "w/config.py",
        "w.libs/share/terminfo/x/xterm",
        "w.libs/ssl/cacert.pem",
    ]
    findings = data_path_findings(_record(*sites, environment=environment), names)
    assert [(f.level.value, f.code, f.message, f.hint, f.path) for f in findings] == [
        (
            "error",
            "data-variable-missing",
            "TK_LIBRARY points tk at w.libs/lib/tk8.6, which the wheel does not have",
            "keep the data that TK_LIBRARY names in the wheel",
            "w.libs/lib/tk8.6",
        ),
        (
            "error",
            "data-path-unreachable",
            (
                "w.libs/libdemo.so, w/config.py name share/demo under the conda prefix; the wheel "
                "has w.libs/share/demo, but no environment variable points there"
            ),
            (
                "add the environment variable that demo reads for share/demo to condapress's "
                "table of relocatable packages (data/relocatable_env.json) and press again"
            ),
            "w.libs/libdemo.so",
        ),
        (
            "error",
            "data-path-unreachable",
            (
                "w.libs/libdemo.so names share/demo/d.dat under the conda prefix; the wheel has "
                "w.libs/share/demo/d.dat, but no environment variable points there"
            ),
            (
                "add the environment variable that demo reads for share/demo/d.dat to "
                "condapress's table of relocatable packages (data/relocatable_env.json) and "
                "press again"
            ),
            "w.libs/libdemo.so",
        ),
        (
            "warning",
            "data-path-absent",
            "w.libs/libdemo.so names include under the conda prefix, which the wheel does not have",
            "nothing to do if demo only reports include; if it reads it, the wheel lacks it",
            "w.libs/libdemo.so",
        ),
        (
            "warning",
            "data-path-degraded",
            (
                "w.libs/share/terminfo/v/vt220 names share/tabset/vt100 under the conda prefix, "
                "which no environment variable can point to: terminfo entries of hardware "
                "terminals name a tab-stop file in their init-file capability (if); tput init, "
                "tput reset and tset send it when they find it and skip it otherwise"
            ),
            "nothing to do unless that feature matters: it needs conda",
            "w.libs/share/terminfo/v/vt220",
        ),
        (
            "info",
            "data-path-covered",
            (
                "w.libs/libtinfo.so, w.libs/libtinfow.so name share/terminfo under the conda "
                "prefix: found through TERMINFO (w.libs/share/terminfo)"
            ),
            "nothing to do",
            "w.libs/libtinfo.so",
        ),
        (
            "info",
            "data-path-covered",
            (
                "w.libs/libcrypto.so names . under the conda prefix: a compiler flag "
                "(-fdebug-prefix-map) in the build information that 'openssl version -a' reports"
            ),
            "nothing to do",
            "w.libs/libcrypto.so",
        ),
        (
            "info",
            "data-path-covered",
            (
                "w.libs/libcrypto.so names ssl/cert.pem under the conda prefix: found through "
                "SSL_CERT_FILE (w.libs/ssl/cacert.pem)"
            ),
            "nothing to do",
            "w.libs/libcrypto.so",
        ),
        (
            "info",
            "data-path-covered",
            (
                "w.libs/libcrypto.so names ssl under the conda prefix: OPENSSLDIR, which 'openssl "
                "version -d' reports; the files under it are found through OPENSSL_CONF, "
                "SSL_CERT_FILE, SSL_CERT_DIR and CTLOG_FILE"
            ),
            "nothing to do",
            "w.libs/libcrypto.so",
        ),
        (
            "info",
            "data-path-unshipped",
            (
                "w.libs/libcrypto.so names lib/ossl-modules under the conda prefix, which openssl "
                "does not ship either (OPENSSL_MODULES is left unset)"
            ),
            "nothing to do: in a conda environment it is missing too",
            "w.libs/libcrypto.so",
        ),
    ]


def test_a_bare_prefix_is_a_warning() -> None:
    site = PlaceholderSite("w.libs/libdemo.so", "demo", FileMode.BINARY, (".",))
    (finding,) = data_path_findings(_record(site, environment=()), ["w.libs/libdemo.so"])
    assert (finding.level.value, finding.code, finding.message, finding.hint) == (
        "warning",
        "data-path-prefix",
        "w.libs/libdemo.so names the conda prefix itself",
        (
            "nothing to do if it is build information (compiler flags); if demo finds its files "
            "from it, add the variable it reads to condapress's table of relocatable packages "
            "(data/relocatable_env.json)"
        ),
    )


def test_the_audit_reads_the_record_from_the_wheel_and_its_json_validates(tmp_path: Path) -> None:
    site = PlaceholderSite("w.libs/libdemo.so", "demo", FileMode.BINARY, ("share/demo",))
    members = {
        "w.libs/libdemo.so": b"not elf",
        "w.libs/share/demo/d.dat": b"data",
        "w-1.0.dist-info/METADATA": b"Metadata-Version: 2.4\nName: w\nVersion: 1.0\n",
        "w-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "w-1.0.dist-info/conda-data-paths.json": _record(site, environment=()).encode(),
    }
    path = tmp_path / "w-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    report = audit_wheel(path)
    assert [f.code for f in report.findings if f.code.startswith("data-")] == [
        "data-path-unreachable"
    ]
    assert not report.ok
    schema = json.loads(files("condapress").joinpath("data/audit-schema.json").read_text())
    jsonschema.validate(audit_document([report]), schema)


def test_a_package_that_resolves_relative_paths_itself_gets_a_relative_placeholder(
    tmp_path: Path,
) -> None:
    # libgreet (the fixture channel's) reads a relative compiled-in folder against its own
    # folder: two copies in one process each find their own data, which one variable cannot do
    pkg = package(
        tmp_path,
        "libgreet",
        hardlink("lib/libgreet.so.1.0.0", PLACEHOLDER),
        PathEntry(
            "share/libgreet/config.txt", PathType.HARDLINK, None, None, PLACEHOLDER, FileMode.TEXT
        ),
    )
    layout = plan_layout(wheel_spec("g", "libgreet"), {"libgreet": pkg}, {}, ELF)
    # (no ELF facts given: the file stays in g.libs/lib/, one folder below the prefix)
    assert {(p.source, p.prefix) for p in layout.placements} == {
        ("lib/libgreet.so.1.0.0", ".."),
        ("share/libgreet/config.txt", "/dev/null/condapress"),
    }
    known = _datapaths.table()["libgreet"]
    assert known.relative
    assert known.variables == ()
    record = DataPaths("g.libs", (), ())
    carried = {"g.libs", "g.libs/share", "g.libs/share/libgreet"}
    covered = judge("share/libgreet", record, carried, known, FileMode.BINARY)
    assert covered.verdict is Verdict.COVERED
    assert covered.detail == (
        "the placeholder became the prefix folder relative to the file, which the package "
        "resolves against the file's own folder"
    )
    # a text file of the same package holds /dev/null/condapress: nothing resolves that
    assert judge("share/libgreet", record, carried, known, FileMode.TEXT) == Judgement(
        Verdict.UNREACHABLE, "share/libgreet"
    )
