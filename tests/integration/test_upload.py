"""condapress upload to a real index server (pypiserver on 127.0.0.1), then pip installs from it."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from condapress._cli import main
from support import FIXTURE_CHANNEL
from support.venvs import make_venv

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TOKEN = "pypi-test-token-of-the-local-index"  # noqa: S105 - the test index's own
_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Index:
    url: str
    packages: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """pypiserver on 127.0.0.1, taking uploads from the user __token__ with password TOKEN."""
    root = tmp_path_factory.mktemp("index")
    # htpasswd's {SHA} scheme, which pypiserver checks with passlib
    digest = base64.b64encode(hashlib.sha1(TOKEN.encode()).digest()).decode()  # noqa: S324
    (root / "htpasswd").write_text(f"__token__:{{SHA}}{digest}\n")
    packages = root / "packages"
    packages.mkdir()
    port = _free_port()
    argv = [sys.executable, "-m", "pypiserver", "run", "-i", "127.0.0.1", "-p", str(port)]
    argv += ["-P", str(root / "htpasswd"), "-a", "update", str(packages)]
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{url}simple/", timeout=2):  # noqa: S310 - http on 127.0.0.1
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"pypiserver did not start:\n{(root / 'server.log').read_text()}")
                time.sleep(0.2)
        yield Index(url, packages)
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=10)
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token in TWINE_PASSWORD, nothing else: no user name, no keyring, no ~/.pypirc."""
    monkeypatch.setenv("TWINE_PASSWORD", TOKEN)
    for name in ("TWINE_USERNAME", "TWINE_REPOSITORY_URL", "TWINE_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("pressed")
    argv = ["pygreet", "salutation-python", "-c", str(FIXTURE_CHANNEL), "--python", "3.11"]
    argv += ["--fat", "-o", str(tmp / "wheelhouse"), "--cache-dir", str(tmp / "cache"), "-q"]
    assert main(argv) == 0
    return tmp / "wheelhouse"


def _wheels(wheelhouse: Path) -> list[str]:
    return sorted(str(p) for p in wheelhouse.glob("*.whl"))


@pytest.mark.slow
def test_upload_then_pip_install_from_the_index(
    index: Index, wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["upload", *_wheels(wheelhouse), "--repository-url", index.url]) == 0
    names = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert capsys.readouterr().out.splitlines() == [
        f"uploaded {name} to {index.url}" for name in names
    ]
    assert sorted(p.name for p in index.packages.iterdir()) == names
    venv = make_venv("3.11", tmp_path / "venv")
    venv.pip("install", "--index-url", f"{index.url}simple/", "pygreet")
    out = venv.run(venv.python, "-c", "import pygreet; print(pygreet.greet('Ada'))").stdout
    assert out.startswith("Hello, Ada! (from share/libgreet/greeting.txt of libgreet 1.0.0)")

    # the same files again: an index never replaces a file
    assert main(["upload", _wheels(wheelhouse)[0], "--repository-url", index.url]) == 1
    assert capsys.readouterr().err.splitlines() == [
        (
            f"error: upload of {names[0]} to {index.url} failed: HTTPError: 400 Bad Request from "
            f"{index.url} Bad Request"
        ),
        (
            "hint: that file is on the index already, and an index never replaces one: upload the "
            "others alone, or press a new version"
        ),
    ]


@pytest.mark.slow
def test_a_wrong_token_is_refused(
    index: Index,
    wheelhouse: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWINE_PASSWORD", "not-the-token")
    monkeypatch.setenv("TWINE_REPOSITORY_URL", index.url)  # the URL from the environment
    [first, *_] = _wheels(wheelhouse)
    assert main(["upload", first]) == 1
    name = first.rpartition("/")[2]
    assert capsys.readouterr().err.splitlines() == [
        (
            f"error: upload of {name} to {index.url} failed: HTTPError: 403 Forbidden from "
            f"{index.url} Forbidden"
        ),
        (
            "hint: check the token: TWINE_PASSWORD must hold an API token of 127.0.0.1 "
            "(TWINE_USERNAME defaults to __token__)"
        ),
    ]


@pytest.mark.slow
def test_no_token(
    index: Index,
    wheelhouse: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWINE_PASSWORD")
    [first, *_] = _wheels(wheelhouse)
    assert main(["upload", first, "--repository-url", index.url]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: upload to {index.url} failed: NonInteractive: Credential not found for password.",
        (
            "hint: TWINE_PASSWORD must hold an API token of 127.0.0.1 (TWINE_USERNAME defaults to "
            "__token__); or, in a GitHub workflow, use trusted publishing (permissions: id-token: "
            "write)"
        ),
    ]


def test_no_index_there(wheelhouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}/"
    [first, *_] = _wheels(wheelhouse)
    assert main(["upload", first, "--repository-url", url]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"error: upload of {first.rpartition('/')[2]} to {url} failed: ")
    assert "ConnectionError: " in err[0]
    assert err[1] == "hint: check the URL (--repository-url) and that the index is up"


def test_pypi_rules_first_and_nothing_goes_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a wheel for a private index: PyPI refuses linux_x86_64, so nothing is sent to TestPyPI
    argv = ["tally", "-c", str(FIXTURE_CHANNEL), "--python", "3.11", "--plat", "linux_x86_64"]
    argv += ["--no-check", "-o", str(tmp_path), "--cache-dir", str(tmp_path / "cache"), "-q"]
    assert main(argv) == 0
    [wheel] = tmp_path.glob("*.whl")
    assert main(["upload", str(wheel), "--repository-url", "https://test.pypi.org/legacy/"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        (
            "error: PyPI would refuse tally_conda-0.3.0-py3-none-linux_x86_64.whl: the "
            "platform tag linux_x86_64 is not one PyPI takes: it says nothing about the "
            "distributions the wheel runs on"
        ),
        (
            "hint: tag it for a platform PyPI knows (manylinux_X_Y, musllinux_X_Y, macosx, win); a "
            "linux_<arch> wheel belongs on a private index; nothing was uploaded ('condapress "
            "check' explains every finding, --no-check uploads anyway)"
        ),
    ]


def test_files_that_are_not_wheels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upload", str(tmp_path / "missing.whl")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: no such file: {tmp_path}/missing.whl",
        "hint: check the path; 'condapress press' writes its wheels to ./wheelhouse",
    ]
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(b"")
    assert main(["upload", str(sdist)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: {sdist} is not a wheel: condapress uploads .whl files",
        "hint: pass the wheels condapress pressed, e.g. wheelhouse/*.whl",
    ]
