"""Staged wheel contents: files written under a folder, with the metadata that goes around them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from condapress.model import CoreMetadata, Provenance, WheelContents

if TYPE_CHECKING:
    from pathlib import Path

TAGS = ("cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64")
SO = "pygreet/_greet.cpython-311-x86_64-linux-gnu.so"


def write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """*data* written at *path* (its folders made) with *mode*."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


def pygreet(root: Path) -> WheelContents:
    """A staged pygreet: python package, extension module, bundled library, tool and launcher."""
    files = {
        "pygreet/__init__.py": (b"from pygreet._greet import hello\n", 0o644),
        SO: (b"\x7fELF" + bytes(range(256)) * 64, 0o755),  # executable at the source
        "pygreet.libs/libgreet-0a1b2c3d.so.1": (b"\x7fELF" + b"\0" * 4000, 0o644),
        "pygreet/bin/greet": (b"\x7fELF tool", 0o644),  # executable by the contents' say-so
        "pygreet-1.0.0.data/scripts/salute": (b"#!python\nimport pygreet\n", 0o644),
    }
    staged = tuple(
        (path, write(root / "stage" / path, data, mode)) for path, (data, mode) in files.items()
    )
    metadata = CoreMetadata(
        name="pygreet",
        version="1.0.0",
        summary="Say hello\n  from C++",
        license_expression="mit",
        license_files=(
            ("LICENSE", write(root / "licenses" / "LICENSE", b"MIT License\n")),
            ("libgreet/COPYING", write(root / "licenses" / "COPYING", b"Copying libgreet\n")),
        ),
        project_urls=(
            ("Homepage", "https://example.org/pygreet"),
            ("Source", "https://example.org/pygreet/src"),
        ),
        requires_python=">=3.11,<3.12",
        requires_dist=("salutation>=1.2", 'numpy>=1.26; python_version >= "3.11"'),
        description="# pygreet\n\nSay hello.",
        description_content_type="text/markdown",
        extra=(("author", "The greeters"), ("Classifier", "Programming Language :: Python :: 3")),
    )
    return WheelContents(
        metadata=metadata,
        tags=TAGS,
        root_is_purelib=False,
        files=tuple(reversed(staged)),  # build_wheel sorts
        executables=frozenset({"pygreet/bin/greet", "pygreet-1.0.0.data/scripts/salute"}),
        entry_points=(
            ("pygreet.plugins", "loud", "pygreet.loud:Plugin"),
            ("console_scripts", "salute", "pygreet.cli:salute"),
            ("console_scripts", "greet", "pygreet.cli:main"),
        ),
        provenance=(
            Provenance(
                name="pygreet",
                version="1.0.0",
                build="py311habcdef0_0",
                channel="conda-forge",
                sha256="2" * 64,
                license="MIT",
                url="https://conda.anaconda.org/conda-forge/linux-64/pygreet-1.0.0-py311habcdef0_0.conda",
            ),
            Provenance(
                name="libgreet",
                version="1.0.0",
                build="h1234567_0",
                channel="conda-forge",
                sha256="1" * 64,
                license=None,
                url="https://conda.anaconda.org/conda-forge/linux-64/libgreet-1.0.0-h1234567_0.conda",
            ),
        ),
    )
