"""Pressed ncurses, tk and openssl find their data from any working directory.

Real conda-forge archives (../shared/realworld/cf2024, tests/data/cf2025) are pressed into fat
wheels, installed with pip into a fresh venv and run from /, from an empty folder and from a
folder that holds decoys under the paths a relative placeholder would have named.
"""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from condapress._cli import main
from condapress.audit import audit_wheel
from support import REALWORLD, REPO
from support.venvs import Venv, make_venv

pytestmark = [pytest.mark.realworld, pytest.mark.slow]

CF2025 = REPO / "tests" / "data" / "cf2025"
# What the machine or the user may have set: each test says what it sets itself.
_VARIABLES = (
    "TERMINFO",
    "TERMINFO_DIRS",
    "TCL_LIBRARY",
    "TK_LIBRARY",
    "OPENSSL_CONF",
    "OPENSSL_MODULES",
    "OPENSSL_ENGINES",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CTLOG_FILE",
    "LIBGREET_DATADIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
)


@dataclass(frozen=True)
class Installed:
    venv: Venv
    wheelhouse: Path

    @property
    def site(self) -> Path:
        return self.venv.path / "lib" / "python3.10" / "site-packages"

    def run(
        self, *argv: str | Path, cwd: Path, stdin: str = "", **env: str
    ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k not in _VARIABLES} | env
        return subprocess.run(
            [str(a) for a in argv],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=environment,
            check=False,
        )


def _press(*argv: str | Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main([str(a) for a in argv]) == 0, out.getvalue()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    tmp = tmp_path_factory.mktemp("datapaths")
    house, cache = tmp / "wheelhouse", tmp / "cache"
    common: list[str | Path] = ["--python", "3.10", "--fat", "-o", house, "--cache-dir", cache]
    _press("ncurses", "tk", "xz", "-c", REALWORLD / "cf2024", *common)
    _press("openssl", "-c", CF2025, *common)
    venv = make_venv("3.10", tmp / "venv")
    venv.pip("install", "--no-index", "--find-links", house, "ncurses-conda", "tk-conda")
    venv.pip("install", "--no-index", "--find-links", house, "openssl-conda")
    return Installed(venv, house)


@pytest.fixture(params=["root", "empty", "decoys"])
def cwd(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "root":
        return Path("/")
    if request.param == "decoys":
        # what a placeholder rewritten to "." or "./lib/.." would find from here
        (tmp_path / "lib" / "tcl8.6").mkdir(parents=True)
        (tmp_path / "lib" / "tcl8.6" / "init.tcl").write_text("puts decoy; exit 3\n")
        (tmp_path / "share" / "terminfo" / "x").mkdir(parents=True)
        (tmp_path / "share" / "terminfo" / "x" / "xterm-256color").write_bytes(b"\0decoy")
        (tmp_path / "ssl").mkdir()
        (tmp_path / "ssl" / "openssl.cnf").write_text("[[[ not a config\n")
    return tmp_path


def test_tput_finds_the_terminfo_database(installed: Installed, cwd: Path) -> None:
    tput = installed.venv.path / "bin" / "tput"
    for terminal in ("xterm-256color", "stterm-256color"):  # the second is a link in ncurses
        done = installed.run(tput, "-T", terminal, "colors", cwd=cwd)
        assert (done.returncode, done.stdout, done.stderr) == (0, "256\n", ""), terminal


def test_tclsh_finds_its_script_library(installed: Installed, cwd: Path) -> None:
    tclsh = installed.venv.path / "bin" / "tclsh8.6"
    script = "puts [info library]\nputs [package require Thread]\n"
    done = installed.run(tclsh, cwd=cwd, stdin=script)
    library = installed.site / "tk_conda.libs" / "lib" / "tcl8.6"
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{library}\n2.8.8\n", "")
    assert (library / "init.tcl").is_file()


def test_openssl_loads_its_configuration_and_certificates(
    installed: Installed, cwd: Path, tmp_path: Path
) -> None:
    openssl = installed.venv.path / "bin" / "openssl"
    done = installed.run(openssl, "version", "-d", cwd=cwd)
    # the compiled-in directory names neither the build machine nor the current directory
    assert (done.returncode, done.stdout) == (0, 'OPENSSLDIR: "/dev/null/condapress/ssl"\n')
    # 'req' stops when it cannot load a configuration: OPENSSL_CONF found the wheel's
    request = ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=condapress"]
    done = installed.run(openssl, *request, "-keyout", os.devnull, "-out", os.devnull, cwd=cwd)
    assert (done.returncode, done.stderr.count("error")) == (0, 0), done.stderr
    # a root of the wheel's ca-certificates is trusted: SSL_CERT_FILE found it
    bundle = (installed.site / "openssl_conda.libs" / "ssl" / "cacert.pem").read_text()
    root = tmp_path / "root.pem"
    root.write_text(
        bundle[bundle.index("-----BEGIN") : bundle.index("-----END CERTIFICATE-----") + 26]
    )
    done = installed.run(openssl, "verify", root, cwd=cwd)
    assert (done.returncode, done.stdout) == (0, f"{root}: OK\n"), done.stderr


def test_without_the_launcher_the_compiled_in_paths_lead_nowhere(installed: Installed) -> None:
    # the executable itself, as a program that bypasses the launcher would run it
    openssl = installed.site / "openssl_conda.libs" / "bin" / "openssl"
    request = ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=condapress"]
    done = installed.run(
        openssl, *request, "-keyout", os.devnull, "-out", os.devnull, cwd=Path("/")
    )
    assert done.returncode == 1
    assert done.stderr.startswith(
        'Can\'t open "/dev/null/condapress/ssl/openssl.cnf" for reading, Not a directory\n'
    )


def test_a_value_the_user_set_wins(installed: Installed, tmp_path: Path) -> None:
    (tmp_path / "init.tcl").write_text("puts {the user's library}; exit 0\n")
    tclsh = installed.venv.path / "bin" / "tclsh8.6"
    done = installed.run(tclsh, cwd=tmp_path, stdin="puts wheel\n", TCL_LIBRARY=str(tmp_path))
    assert done.stdout == "the user's library\n"
    openssl = installed.venv.path / "bin" / "openssl"
    request = ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=condapress"]
    done = installed.run(
        openssl,
        *request,
        "-keyout",
        os.devnull,
        "-out",
        os.devnull,
        cwd=tmp_path,
        OPENSSL_CONF=str(tmp_path / "mine.cnf"),
    )
    assert done.stderr.startswith(f'Can\'t open "{tmp_path / "mine.cnf"}" for reading')


def test_the_audit_reports_every_placeholder_site(installed: Installed) -> None:
    (ncurses,) = installed.wheelhouse.glob("ncurses_conda-*.whl")
    report = audit_wheel(ncurses)
    data = [
        (f.level.value, f.code, f.message) for f in report.findings if f.code.startswith("data-")
    ]
    assert data[1] == (
        "info",
        "data-path-covered",
        (
            "ncurses_conda.libs/libtinfo-c0cc8697.so.6, ncurses_conda.libs/libtinfow-c7111f60.so.6 "
            "name share/terminfo under the conda prefix: found through TERMINFO "
            "(ncurses_conda.libs/share/terminfo)"
        ),
    )
    assert data[0][:2] == ("warning", "data-path-degraded")
    assert data[0][2].startswith(
        "ncurses_conda.libs/share/terminfo/a/a210, ncurses_conda.libs/share/terminfo/a/abm85, "
    )
    assert data[0][2].endswith(
        ", ... and 274 more name share/tabset/std, share/tabset/stdcrt, share/tabset/vt100, "
        "share/tabset/vt300 under the conda prefix, which no environment variable can point to: "
        "terminfo entries of hardware terminals name a tab-stop file in their init-file "
        "capability (if); tput init, tput reset and tset send it when they find it and skip it "
        "otherwise"
    )
    assert len(data) == 2
    (tk,) = installed.wheelhouse.glob("tk_conda-*.whl")
    tcl = "tk_conda.libs/libtcl8.6-a3cc42ec.so names"
    pkgconfig = "a directory of the build that ::tcl::pkgconfig reports; Tcl does not open it"
    assert _data_messages(tk) == [
        (
            f"{tcl} lib/tcl8.6 under the conda prefix: found through TCL_LIBRARY "
            "(tk_conda.libs/lib/tcl8.6)"
        ),
        f"{tcl} bin under the conda prefix: {pkgconfig}",
        f"{tcl} include under the conda prefix: {pkgconfig}",
        (
            f"{tcl} lib under the conda prefix: Tcl adds the folder above its script library to "
            "auto_path, so the packages there (itcl, thread, tdbc, sqlite3) are found with it"
        ),
        f"{tcl} man under the conda prefix: {pkgconfig}",
    ]
    (openssl,) = installed.wheelhouse.glob("openssl_conda-*.whl")
    crypto = "openssl_conda.libs/libcrypto-2e637152.so.3 names"
    flag = "in the build information that 'openssl version -a' reports"
    assert _data_messages(openssl) == [
        f"{crypto} . under the conda prefix: a compiler flag (-fdebug-prefix-map) {flag}",
        (
            f"{crypto} ssl/ct_log_list.cnf under the conda prefix: found through CTLOG_FILE "
            "(openssl_conda.libs/ssl/ct_log_list.cnf)"
        ),
        (
            f"{crypto} ssl/certs under the conda prefix: found through SSL_CERT_DIR "
            "(openssl_conda.libs/ssl/certs)"
        ),
        (
            f"{crypto} ssl/cert.pem under the conda prefix: found through SSL_CERT_FILE "
            "(openssl_conda.libs/ssl/cacert.pem)"
        ),
        f"{crypto} include under the conda prefix: a compiler flag (-isystem) {flag}",
        (
            f"{crypto} ssl under the conda prefix: OPENSSLDIR, which 'openssl version -d' reports; "
            "the files under it are found through OPENSSL_CONF, SSL_CERT_FILE, SSL_CERT_DIR and "
            "CTLOG_FILE"
        ),
        (
            f"{crypto} ssl/private under the conda prefix: the private-key folder of OPENSSLDIR, "
            "which the package does not ship and OpenSSL opens only when told to"
        ),
        (
            f"{crypto} lib/engines-3 under the conda prefix, which openssl does not ship either "
            "(OPENSSL_ENGINES is left unset)"
        ),
        (
            f"{crypto} lib/ossl-modules under the conda prefix, which openssl does not ship either "
            "(OPENSSL_MODULES is left unset)"
        ),
    ]


def test_gettext_catalogs_are_a_known_loss(installed: Installed) -> None:
    # xz's binaries name LOCALEDIR; no variable moves gettext's catalogs: a warning, not a refusal
    (xz,) = installed.wheelhouse.glob("xz_conda-*.whl")
    assert _data_messages(xz) == [
        (
            "xz_conda.libs/bin/lzmainfo, xz_conda.libs/bin/xz name share/locale under the conda "
            "prefix, which no environment variable can point to: GNU gettext's message catalogs "
            "(LOCALEDIR, given to bindtextdomain); no variable moves them, so the program speaks "
            "English"
        )
    ]


def _data_messages(wheel: Path) -> list[str]:
    report = audit_wheel(wheel)
    assert report.ok
    return [f.message for f in report.findings if f.code.startswith("data-")]


def test_the_wheel_keeps_no_build_prefix_and_no_relative_data_path(installed: Installed) -> None:
    for wheel in sorted(installed.wheelhouse.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                data = archive.read(name)
                assert b"_h_env_placehold" not in data, name
                assert b'OPENSSLDIR: "./' not in data, name


# --- the import hook ---------------------------------------------------------------------------

TERMDEMO = b'''"""How many colours a terminal has, asked of the bundled ncurses."""
import ctypes
import glob
import os


def colors(terminal):
    here = os.path.dirname(os.path.abspath(__file__))
    (path,) = glob.glob(os.path.join(here, "..", "termdemo.libs", "libtinfo-*.so.6"))
    tinfo = ctypes.CDLL(path)
    error = ctypes.c_int(0)
    if tinfo.setupterm(terminal.encode(), 1, ctypes.byref(error)) != 0:
        return None
    return tinfo.tigetnum(b"colors")
'''


def test_the_import_hook_points_a_bundled_library_at_its_data(tmp_path: Path) -> None:
    from support.conda_archives import M, Package, index

    package = Package(
        payload=[M("site-packages/termdemo/__init__.py", TERMDEMO)],
        index=index(name="termdemo", depends=["ncurses"], noarch="python", subdir="noarch"),
    )
    (tmp_path / "src").mkdir()
    archive = package.conda(tmp_path / "src", "termdemo-1.0-h0_0.conda")
    house = tmp_path / "wheelhouse"
    _press(archive, "-c", REALWORLD / "cf2024", "--python", "3.10", "--fat", "-o", house)
    venv = make_venv("3.10", tmp_path / "venv")
    venv.pip("install", "--no-index", "--find-links", house, "termdemo")
    installed = Installed(venv, house)
    init = (installed.site / "termdemo" / "__init__.py").read_text()
    assert init.startswith(
        '"""How many colours a terminal has, asked of the bundled ncurses."""\n'
        "from . import _condapress_env  # points bundled libraries at their data\n"
        "import ctypes\n"
    )
    code = "import os, termdemo; print(os.environ.get('TERMINFO')); print(termdemo.colors(%r))"
    terminfo = installed.site / "termdemo.libs" / "share" / "terminfo"
    for cwd in (Path("/"), tmp_path):
        done = installed.run(venv.python, "-c", code % "stterm-256color", cwd=cwd)
        assert done.stdout == f"{terminfo}\n256\n", done.stderr
    # the user's value wins: an empty database knows no terminal
    (tmp_path / "empty").mkdir()
    done = installed.run(
        venv.python, "-c", code % "xterm", cwd=tmp_path, TERMINFO=str(tmp_path / "empty")
    )
    assert done.stdout == f"{tmp_path / 'empty'}\nNone\n", done.stderr
