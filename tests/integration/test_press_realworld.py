"""Press real conda-forge packages (../shared/realworld/cf2024) and use them from a fresh venv."""

from __future__ import annotations

import io
import subprocess
import zipfile
from contextlib import redirect_stdout
from typing import TYPE_CHECKING

import pytest

from condapress._cli import main
from support import REALWORLD
from support.venvs import Venv, make_venv

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.realworld

if not REALWORLD.is_dir():
    pytest.skip(
        "../shared/realworld is absent: the conda-forge archive tier needs it",
        allow_module_level=True,
    )

CHANNEL = REALWORLD / "cf2024"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cf2024")
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(
            [
                "pyyaml",
                "cffi",
                "ruamel.yaml.clib",
                "tk",
                "-c",
                str(CHANNEL),
                "--python",
                "3.10",
                "--fat",
                "-o",
                str(tmp / "wheelhouse"),
                "--cache-dir",
                str(tmp / "cache"),
            ]
        )
    assert status == 0, out.getvalue()
    return tmp / "wheelhouse"


@pytest.fixture(scope="module")
def venv(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    env = make_venv("3.10", tmp_path_factory.mktemp("venv") / "v")
    # cffi's and ruamel.yaml.clib's partners come from cf2024 too: press them as wheels
    out = io.StringIO()
    argv = ["pycparser", "ruamel.yaml", "-c", str(CHANNEL), "--python", "3.10"]
    argv += ["-o", str(wheelhouse), "--cache-dir", str(wheelhouse.parent / "cache")]
    with redirect_stdout(out):
        assert main(argv) == 0, out.getvalue()
    wanted = ("pyyaml", "cffi", "ruamel.yaml")
    env.pip("install", "--no-index", "--find-links", wheelhouse, *wanted)
    return env


def test_wheel_names(wheelhouse: Path) -> None:
    names = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert "pyyaml-6.0.1-cp310-cp310-manylinux_2_5_x86_64.manylinux1_x86_64.whl" in names
    assert "cffi-1.16.0-cp310-cp310-manylinux_2_12_x86_64.manylinux2010_x86_64.whl" in names
    assert "tk_conda-8.6.13-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.whl" in names


def test_pyyaml_uses_the_bundled_libyaml(venv: Venv) -> None:
    code = (
        "import yaml; print(yaml.load('a: 1', Loader=yaml.CLoader)); print(yaml.__with_libyaml__)"
    )
    assert venv.run(venv.python, "-c", code).stdout == "{'a': 1}\nTrue\n"


def test_cffi_calls_through_libffi(venv: Venv) -> None:
    code = (
        "import cffi; ffi = cffi.FFI(); ffi.cdef('int abs(int);'); C = ffi.dlopen(None); "
        "print(C.abs(-42)); import _cffi_backend; print(_cffi_backend.__file__.endswith('.so'))"
    )
    assert venv.run(venv.python, "-c", code).stdout == "42\nTrue\n"


def test_ruamel_yaml_clib_imports(venv: Venv) -> None:
    code = (
        "import ruamel.yaml, _ruamel_yaml; "
        "print(ruamel.yaml.YAML(typ='safe').load('a: [1, 2]')); "
        "print(_ruamel_yaml.__file__.endswith('.cpython-310-x86_64-linux-gnu.so'))"
    )
    assert venv.run(venv.python, "-c", code).stdout == "{'a': [1, 2]}\nTrue\n"


def test_pip_check(venv: Venv) -> None:
    assert venv.pip("check").stdout == "No broken requirements found.\n"


def test_tk_placeholder_rpath_is_gone(wheelhouse: Path, tmp_path: Path) -> None:
    (wheel,) = wheelhouse.glob("tk_conda-*.whl")
    checked = 0
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            assert b"_h_env_placehold" not in data, name
            if data[:4] == b"\x7fELF":
                target = tmp_path / "elf"
                target.write_bytes(data)
                dynamic = subprocess.run(
                    ["readelf", "-d", "-W", str(target)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                for line in dynamic.splitlines():
                    if "(RPATH)" in line or "(RUNPATH)" in line:
                        assert "[$ORIGIN" in line, (name, line)
                checked += 1
    assert checked >= 10


def test_auditwheel_and_our_audit_agree_with_the_tags(wheelhouse: Path) -> None:
    import re
    import sys
    from pathlib import Path

    from condapress.audit import audit_wheel

    auditwheel = Path(sys.executable).parent / "auditwheel"
    checked = 0
    for wheel in sorted(wheelhouse.glob("*manylinux*.whl")):
        ours = re.search(r"-(manylinux_\d+_\d+_x86_64)", wheel.name)
        assert ours is not None
        shown = subprocess.run(
            [str(auditwheel), "show", str(wheel)], capture_output=True, text=True, check=False
        )
        text = " ".join(shown.stdout.split())
        assert f'consistent with the following platform tag: "{ours.group(1)}"' in text, text
        report = audit_wheel(wheel)
        assert report.ok, [f.message for f in report.findings]
        assert report.verdict.tag == ours.group(1)
        checked += 1
    assert checked == 4  # pyyaml, cffi, ruamel.yaml.clib, tk
