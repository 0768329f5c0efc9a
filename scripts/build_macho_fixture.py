"""Build ``tests/data/macho/libhello.1-universal2.dylib`` with LLVM's Mach-O linker, no SDK.

A universal (x86_64 + arm64) library whose arm64 slice ld64.lld signs ad hoc
(``adhoc|linker-signed``), as Apple's linker does: the tests read it and check that signature
with a signer condapress did not write. libSystem is the text stub ``src/libSystem.tbd``.
Needs Debian's ``clang-14``, ``lld-14`` and ``llvm-14`` (``llvm-lipo-14``).

Usage::

    python scripts/build_macho_fixture.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "tests" / "data" / "macho"
# (architecture, clang target, minimum macOS)
ARCHES = (("x86_64", "x86_64-apple-macos10.13", "10.13"), ("arm64", "arm64-apple-macos11", "11.0"))


def main() -> None:
    """Compile, link and join the two slices; print the output's path."""
    with tempfile.TemporaryDirectory() as tmp:
        slices = []
        for arch, target, minos in ARCHES:
            obj, lib = Path(tmp, f"hello-{arch}.o"), Path(tmp, f"libhello.1-{arch}.dylib")
            subprocess.run(
                ["clang-14", "-target", target, "-O2", "-c", str(HERE / "src" / "hello.c"),
                 "-o", str(obj)],
                check=True,
            )  # fmt: skip
            subprocess.run(
                ["ld64.lld-14", "-arch", arch, "-platform_version", "macos", minos, minos,
                 "-dylib", "-install_name", "@rpath/libhello.1.dylib",
                 "-headerpad_max_install_names", "-o", str(lib), str(obj),
                 str(HERE / "src" / "libSystem.tbd")],
                check=True,
            )  # fmt: skip
            slices.append(str(lib))
        output = HERE / "libhello.1-universal2.dylib"
        subprocess.run(["llvm-lipo-14", "-create", *slices, "-output", str(output)], check=True)
        print(output)


if __name__ == "__main__":
    main()
