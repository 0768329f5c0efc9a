"""formats.elf._read: the rules that need no binary (symbol names, version names, the magic).

The reader itself is checked on binaries gcc compiles, in tests/integration/test_elf_compiled.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from condapress.errors import ArchiveError
from condapress.formats.elf._read import _STD_SYMBOL, is_elf, max_versions, read_elf
from support.factories import binary_facts

if TYPE_CHECKING:
    from pathlib import Path


def test_max_versions_skips_names_that_are_not_numbers() -> None:
    needs = (
        ("libc.so.6", ("GLIBC_2.17", "GLIBC_2.2.5", "GLIBC_2.9", "GLIBC_PRIVATE")),
        ("libgcc_s.so.1", ("GCC_3.0", "GCC_4.2.0")),
        ("libstdc++.so.6", ("CXXABI_1.3.9", "CXXABI_TM_1", "GLIBCXX_3.4.30", "GLIBCXX_3.4.9")),
        ("libz.so.1", ("ZLIB_1.2.9",)),
    )
    assert max_versions(binary_facts(version_needs=needs)) == {
        "CXXABI": "1.3.9",
        "GCC": "4.2.0",
        "GLIBC": "2.17",
        "GLIBCXX": "3.4.30",
    }


@pytest.mark.parametrize(
    ("name", "in_std"),
    [
        ("_ZSt4cout", True),
        ("_ZSt9terminatev", True),
        ("_ZNSt6thread6detachEv", True),
        ("_ZNKSt9type_info4nameEv", True),
        ("_ZNKRSt7__cxx1115basic_stringbufIcSt11char_traitsIcESaIcEE3strEv", True),
        ("_ZNSt3__14coutE", True),
        ("_ZNSs4_Rep20_S_empty_rep_storageE", True),
        ("_ZNSaIcEC1Ev", True),
        ("_ZNSoD0Ev", True),
        ("_ZTVSt9exception", True),
        ("_ZTINSt6thread6_StateE", True),
        ("_ZTSSo", True),
        ("_ZTCSt14basic_ifstreamIcSt11char_traitsIcEE0_Si", True),
        ("_ZThn16_NSdD1Ev", True),
        ("_ZTv0_n24_NSoD1Ev", True),
        ("_ZTWSt11__once_call", True),
        ("_ZGVNSt7collateIcE2idE", True),
        ("_ZGTtNKSt9exception4whatEv", True),
        ("_ZZNSt8__detail18__to_chars_10_implIjEEvPcjT_E8__digits", True),
        ("_ZGVZNSt8ios_base4InitC4EvE4once", True),
        ("_Z3fooSt6vectorIiSaIiEE", False),
        ("_Z5greetRKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE", False),
        ("_ZN9__gnu_cxx18stdio_sync_filebufIcSt11char_traitsIcEE4syncEv", False),
        ("_ZZ9init_oncevE4flag", False),
        ("_ZTIPKc", False),
        ("_ZTI3Foo", False),
        ("_ZdlPv", False),
        ("__cxa_throw", False),
        ("greet", False),
    ],
)
def test_std_symbol_rule(name: str, *, in_std: bool) -> None:
    assert bool(_STD_SYMBOL.match(name.encode())) is in_std


def test_not_an_elf_file(tmp_path: Path) -> None:
    path = tmp_path / "libfake.so"
    path.write_text("INPUT(-lfake_real)\n")  # a linker script, as some packages ship
    assert is_elf(path) is False
    with pytest.raises(ArchiveError) as info:
        read_elf(path)
    assert info.value.message == (
        "libfake.so is not a valid ELF file: it does not start with the ELF magic number"
    )
    assert info.value.path == str(path)
    assert info.value.code == "bad-binary"
