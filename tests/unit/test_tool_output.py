"""The pure parsers of tool output in _tools: pip's version, twine's errors."""

from __future__ import annotations

import pytest

from condapress._tools import parse_pip_version, parse_twine_error
from condapress.errors import ToolError

TWINE_403 = """\
Uploading distributions to http://127.0.0.1:8080/
INFO     username: __token__
Uploading pygreet-1.0.0-cp311-cp311-manylinux_2_34_x86_64.whl
WARNING  Error during upload. Retry with the --verbose option for more details.
ERROR    HTTPError: 403 Forbidden from http://127.0.0.1:8080/
         Forbidden
"""

TWINE_TRACEBACK = """\
Uploading distributions to http://127.0.0.1:9/
Traceback (most recent call last):
  File "x.py", line 1, in <module>
requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): refused
"""


@pytest.mark.parametrize(
    ("output", "said"),
    [
        (TWINE_403, "HTTPError: 403 Forbidden from http://127.0.0.1:8080/ Forbidden"),
        (
            "ERROR    InvalidDistribution: Unknown distribution format: 'x.txt'\n",
            "InvalidDistribution: Unknown distribution format: 'x.txt'",
        ),
        (
            TWINE_TRACEBACK,
            "ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): refused",
        ),
        ("something odd\n", "something odd"),
        ("", "no message"),
    ],
    ids=["http-error", "one-line", "traceback", "plain", "empty"],
)
def test_parse_twine_error(output: str, said: str) -> None:
    assert parse_twine_error(output) == said


def test_parse_pip_version() -> None:
    assert parse_pip_version("pip 22.3.1 from /x/pip (python 3.11)\n") == (22, 3, 1)
    with pytest.raises(ToolError) as caught:
        parse_pip_version("no pip here")
    assert caught.value.message == "cannot read the pip version from 'no pip here'"
