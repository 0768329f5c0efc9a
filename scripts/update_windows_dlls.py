"""Write src/condapress/data/windows_dlls.json from delvewheel's lists of Windows system DLLs.

delvewheel (MIT, github.com/adang1345/delvewheel) keeps, per architecture, the DLLs found in
System32 (SysWOW64 for x86) of every Windows release from 7 SP1 to 11: what a wheel may import
without bundling. condapress reads the same facts as package data, so a new delvewheel release
is taken in by raising its pin in the test dependency group (pyproject.toml), running this
script and committing the file; the tests compare the two.

    python scripts/update_windows_dlls.py
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from delvewheel import _dll_list

OUT = Path(__file__).resolve().parents[1] / "src" / "condapress" / "data" / "windows_dlls.json"

#: delvewheel's machine types, spelled as condapress spells PE machines (and wheel tags do).
_ARCHES = {"AMD64": "amd64", "ARM64": "arm64", "I386": "x86"}


def table() -> dict[str, object]:
    """The package data: delvewheel's names and patterns, and condapress's MSVC runtime rule."""
    return {
        "version": 1,
        "description": (
            "DLLs a Windows system provides, by architecture: the names delvewheel "
            f"{version('delvewheel')} lists (_dll_list.ignore_names: System32 of Windows 7 SP1 "
            "to 11), its patterns for the interpreter's and the API-set DLLs "
            "(_dll_list.ignore_regexes), and the Microsoft Visual C++ runtime "
            "(_dll_list.vc_redist), which condapress takes as the system's as conda's vc, "
            "vs2015_runtime, vc14_runtime and ucrt packages are: written by "
            "scripts/update_windows_dlls.py"
        ),
        "names": {
            _ARCHES[machine.name]: sorted(names)
            for machine, names in sorted(_dll_list.ignore_names.items(), key=lambda i: i[0].name)
        },
        "patterns": sorted(regex.pattern for regex in _dll_list.ignore_regexes),
        "msvc_runtime": _dll_list.vc_redist.pattern,
    }


def main() -> None:
    """Write the table."""
    OUT.write_text(json.dumps(table(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
