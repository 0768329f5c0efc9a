"""Upload wheels to PyPI, TestPyPI or any index that takes PyPI's upload API, with twine.

twine runs as a program (:func:`condapress._tools.twine_upload`): its command line is its
supported interface (its maintainers do not support ``twine.commands`` as an API, and its
functions print to standard output). So condapress gets what twine does for every index: the
upload protocol, API tokens from ``TWINE_PASSWORD``, and trusted publishing in GitHub
workflows. Before an upload to PyPI or TestPyPI every wheel is checked against PyPI's rules
(:func:`condapress.audit.check_wheel`), and none is uploaded if one would be refused.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from condapress import _tools
from condapress.errors import ToolError, UploadError, printable
from condapress.model import Uploaded

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["PYPI_UPLOAD_URL", "TOKEN_USERNAME", "upload"]

logger = logging.getLogger(__name__)

#: Where twine uploads to PyPI, unless told otherwise.
PYPI_UPLOAD_URL = "https://upload.pypi.org/legacy/"
#: The hosts whose uploads PyPI's rules decide (PyPI and TestPyPI).
_PYPI_HOSTS = frozenset({"upload.pypi.org", "test.pypi.org"})
#: The user name of API tokens, on PyPI and on most indexes that copy it.
TOKEN_USERNAME = "__token__"  # noqa: S105 - a user name, not a secret
_UPLOADING = re.compile(r"^Uploading (?!distributions to )(\S+)$", re.MULTILINE)


def upload(
    wheels: Sequence[Path], *, repository_url: str | None = None, check: bool = True
) -> Uploaded:
    """Upload *wheels* to *repository_url* (default: ``TWINE_REPOSITORY_URL``, else PyPI).

    The API token is ``TWINE_PASSWORD``'s; the user name ``TWINE_USERNAME``'s, else
    ``__token__``.

    :param check: check the wheels against PyPI's rules first when the index is PyPI's.
    :raises UploadError: a file is missing or not a wheel; PyPI would refuse a wheel (then none
        is uploaded); the index refused one or could not be reached.
    """
    url = repository_url or os.environ.get("TWINE_REPOSITORY_URL") or PYPI_UPLOAD_URL
    for wheel in wheels:
        if not wheel.is_file():
            raise UploadError(
                f"no such file: {printable(str(wheel))}",
                hint="check the path; 'condapress press' writes its wheels to ./wheelhouse",
            )
        if wheel.suffix != ".whl":
            raise UploadError(
                f"{printable(str(wheel))} is not a wheel: condapress uploads .whl files",
                hint="pass the wheels condapress pressed, e.g. wheelhouse/*.whl",
            )
    if check and urlsplit(url).hostname in _PYPI_HOSTS:
        _check(wheels)
    username = None if os.environ.get("TWINE_USERNAME") else TOKEN_USERNAME
    try:
        output = _tools.twine_upload(wheels, repository_url=url, username=username)
    except ToolError as exc:
        raise _refused(url, exc) from exc
    logger.info("%s", output.rstrip())
    return Uploaded(url=url, wheels=tuple(wheel.name for wheel in wheels))


def _check(wheels: Sequence[Path]) -> None:
    from condapress import audit  # noqa: PLC0415 - readme_renderer and docutils load slowly

    for wheel in wheels:
        errors = [f for f in audit.check_wheel(wheel).findings if f.level.value == "error"]
        if errors:
            raise UploadError(
                f"PyPI would refuse {wheel.name}: {printable(errors[0].message)}",
                hint=f"{errors[0].hint}; nothing was uploaded ('condapress check' explains "
                "every finding, --no-check uploads anyway)",
            )


def _refused(url: str, exc: ToolError) -> UploadError:
    output = exc.detail or ""
    started = _UPLOADING.findall(output)
    which = f" of {started[-1]}" if started else ""
    reason = exc.message.removeprefix("twine upload failed: ")
    # twine wraps its log at 80 columns: words of one message may be on two lines
    hint = _hint(" ".join(output.split()), urlsplit(url).hostname or url)
    if started[:-1]:
        hint = f"{', '.join(started[:-1])} went up before it; {hint}"
    if exc.message.startswith("twine is not installed"):
        return UploadError(exc.message, hint=exc.hint, detail=output)
    return UploadError(
        f"upload{which} to {printable(url)} failed: {printable(reason)}",
        hint=hint,
        detail=output,
    )


def _hint(output: str, host: str) -> str:
    token = (
        f"TWINE_PASSWORD must hold an API token of {host} (TWINE_USERNAME defaults to __token__)"
    )
    if "Credential not found" in output:
        return (
            f"{token}; or, in a GitHub workflow, use trusted publishing (permissions: "
            "id-token: write)"
        )
    if re.search(r"\b40[13]\b", output):
        return f"check the token: {token}"
    if "already exist" in output:
        return (
            "that file is on the index already, and an index never replaces one: upload the "
            "others alone, or press a new version"
        )
    if "ConnectionError" in output or "Max retries exceeded" in output:
        return "check the URL (--repository-url) and that the index is up"
    return "run with -v for twine's output"
