"""The one error hierarchy of condapress: every failure a user can cause or meet.

Every error carries a stable kebab-case ``code`` (used in docs and tests), a ``message`` that says
what went wrong, and a ``hint`` that says what to do next. The CLI renders them as ``error:`` and
``hint:`` lines; library callers get the same fields as attributes. Errors caused by bad input
also inherit from :class:`ValueError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "UNSAFE_HINT",
    "ArchiveError",
    "BinaryError",
    "ChannelError",
    "CondapressError",
    "ConfigError",
    "IndexConflictError",
    "MetadataError",
    "MixedArchitecturesError",
    "MixedPythonsError",
    "OutputError",
    "OverlapError",
    "PolicyViolation",
    "RelocationError",
    "SmokeError",
    "SolveError",
    "SpecError",
    "TooLargeError",
    "ToolError",
    "UnresolvedLibraryError",
    "UploadError",
    "WheelContentsError",
    "WriteError",
    "listing",
    "printable",
]


#: The hint for input made to harm: a member that escapes, a name that is a path.
UNSAFE_HINT = "do not use this archive; report it to the channel it came from"


def printable(text: str) -> str:
    r"""*text* with control characters escaped: messages quote names that come from channels.

    >>> printable("pkg\x1b[2J")
    'pkg\\x1b[2J'
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def listing(items: Sequence[str], separator: str = ", ", limit: int = 10) -> str:
    """*items* joined by *separator* for a message: the first *limit* only, then ``... and N more``.

    A message names what went wrong without growing without bound; the whole list belongs in
    the error's ``detail``.

    >>> listing(["a", "b", "c"], limit=2)
    'a, b, ... and 1 more'
    >>> listing(["too short", "no name"], "; ")
    'too short; no name'
    """
    more = f"{separator}... and {len(items) - limit} more" if len(items) > limit else ""
    return separator.join(items[:limit]) + more


class CondapressError(Exception):
    """Base class of every error condapress raises on purpose.

    :param message: what went wrong, one sentence, naming the package, path or library involved.
    :param hint: what the user can do about it.
    :param package: the conda package concerned, as ``name-version-build`` or a spec.
    :param path: the file or archive member concerned.
    :param detail: longer diagnostic text (solver explanation, tool stderr) shown with ``-v``.
    """

    code = "condapress-error"
    default_hint = "run again with -v for details"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        package: str | None = None,
        path: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.package = package
        self.path = path
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class SpecError(CondapressError, ValueError):
    """A match spec, version constraint or option value could not be understood."""

    code = "bad-spec"
    default_hint = "write specs the way conda does, for example 'numpy >=1.26' or 'pyarrow=0.14'"


class ConfigError(CondapressError, ValueError):
    """The configuration file cannot be read, or has keys or values that are wrong."""

    code = "bad-config"


class ChannelError(CondapressError):
    """A channel could not be reached, or its repodata could not be read."""

    code = "channel-error"
    default_hint = "check the channel name, URL or folder and your network connection"


class SolveError(CondapressError, ValueError):
    """The specs have no solution on the channels (unknown package, conflicting constraints)."""

    code = "unsolvable"
    default_hint = "check the package name and version on the channel, or relax the spec"


class ArchiveError(CondapressError, ValueError):
    """A conda archive is corrupt, truncated, tampered with or tries to escape its destination."""

    code = "bad-archive"
    default_hint = "delete the file and download it again; report the package if it persists"

    @classmethod
    def refusing(
        cls, archive: str, member: str, reason: str, hint: str = UNSAFE_HINT
    ) -> ArchiveError:
        """``<archive>: refusing member '<member>': <reason>``: a member that is not taken."""
        message = f"{archive}: refusing member {member!r}: {reason}"
        return cls(message, hint=hint, package=archive, path=member)


class TooLargeError(ArchiveError):
    """An archive, or a file in it, asks for more than condapress reads: a decompression bomb."""

    code = "too-large"
    default_hint = "do not use this file: no real package is made like this"


class BinaryError(ArchiveError):
    """A binary (an ELF or Mach-O file) is truncated, corrupt or not what its name says.

    :param reason: what is wrong with it, without the file's name (``the dynamic section is
        truncated``), so that callers can name the file their own way.
    """

    code = "bad-binary"

    def __init__(
        self, name: str, reason: str, *, kind: str = "ELF", path: str | None = None
    ) -> None:
        super().__init__(f"{name} is not a valid {kind} file: {reason}", path=path)
        self.reason = reason


class MetadataError(CondapressError, ValueError):
    """A package's info/ metadata (index.json, paths.json, ...) is missing or malformed."""

    code = "bad-metadata"
    default_hint = "the package was not built by conda-build or rattler-build; rebuild it"


class OutputError(CondapressError, ValueError):
    """The output folder, a file to write or the temporary folder cannot take what is written."""

    code = "bad-output"
    default_hint = "choose another output folder with -o"


class WriteError(CondapressError):
    """A file could not be written: no space left, a quota or file size limit, or no permission."""

    code = "cannot-write"
    default_hint = "free some space, or choose a folder you can write to, then run again"


class MixedArchitecturesError(CondapressError, ValueError):
    """The binaries meant for one wheel are built for more than one architecture."""

    code = "mixed-architectures"
    default_hint = "a wheel holds binaries for one architecture: press one subdir at a time"


class MixedPythonsError(CondapressError, ValueError):
    """The extension modules meant for one wheel are built for different Pythons."""

    code = "mixed-pythons"
    default_hint = "press one conda build per Python version: a wheel serves one interpreter"


class IndexConflictError(CondapressError, ValueError):
    """Two wheels of one name with different bytes would go into one index."""

    code = "index-conflict"
    default_hint = "an index never replaces a file: press a new version"


class UnresolvedLibraryError(CondapressError):
    """A shared library needed by a binary is neither in the closure nor on the target system."""

    code = "unresolved-library"
    default_hint = "add the conda package that provides it to the specs"


class RelocationError(CondapressError):
    """A binary could not be rewritten to the wheel layout."""

    code = "relocation-failed"


class OverlapError(CondapressError, ValueError):
    """Two files of the packages pressed into one wheel would take the same wheel path."""

    code = "overlapping-files"
    default_hint = "pass --allow-overlap to keep the first package's file"


class PolicyViolation(CondapressError):
    """The binaries cannot honour the requested or claimed platform tag."""

    code = "policy-violation"
    default_hint = "ask for a newer tag with --plat, or pass --runtime bundle"


class SmokeError(CondapressError):
    """The smoke test failed: the wheels do not install, import or run in a fresh environment."""

    code = "smoke-failed"
    default_hint = "no wheel was written; run with -v for the output"


class ToolError(CondapressError):
    """An external tool is missing, too old, or failed."""

    code = "tool-failed"
    default_hint = "reinstall condapress's dependencies: pip install --force-reinstall condapress"


class UploadError(CondapressError):
    """The index refused the upload, could not be reached, or the files to upload are wrong."""

    code = "upload-failed"
    default_hint = "run with -v for twine's output"


class WheelContentsError(CondapressError, ValueError):
    """The files, tags or metadata handed to the assemble stage cannot make a valid wheel."""

    code = "bad-wheel-contents"
    default_hint = "this is a bug in condapress; report it with the command line that caused it"
