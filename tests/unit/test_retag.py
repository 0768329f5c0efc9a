"""retag: python/ABI tags from extension suffixes, platform tags from auditwheel's policy data."""

from __future__ import annotations

from dataclasses import replace

import pytest
from auditwheel.architecture import Architecture
from auditwheel.libc import Libc
from auditwheel.policy import WheelPolicies
from hypothesis import given
from hypothesis import strategies as st

from condapress.errors import CondapressError, PolicyViolation, SpecError
from condapress.formats.elf._policy import check_requested, platform_tag
from condapress.model import BinaryFacts, PlatformVerdict
from condapress.retag import bounded_by_requirements, python_tags, wheel_tags
from support.factories import binary_facts


def elf(
    *needs: tuple[str, tuple[str, ...]],
    needed: tuple[str, ...] = ("libc.so.6",),
    machine: str = "x86_64",
) -> BinaryFacts:
    """A library that needs *needed* (libc) at the symbol versions *needs*."""
    return binary_facts(*needed, version_needs=needs, machine=machine)


def glibc(*versions: str) -> tuple[str, tuple[str, ...]]:
    return ("libc.so.6", tuple(f"GLIBC_{v}" for v in versions))


# python_tags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "requires_python", "expected"),
    [
        (["_x.cpython-310-x86_64-linux-gnu.so"], None, ("cp310", "cp310")),
        (["a/_x.cpython-311-x86_64-linux-gnu.so", "a/_y.cpython-311-x86_64-linux-gnu.so"], None,
         ("cp311", "cp311")),
        (["_x.cpython-313t-x86_64-linux-gnu.so"], None, ("cp313", "cp313t")),
        (["_x.cpython-37m-x86_64-linux-gnu.so"], None, ("cp37", "cp37m")),
        (["_x.cpython-312-aarch64-linux-gnu.so"], None, ("cp312", "cp312")),
        (["_x.pypy39-pp73-x86_64-linux-gnu.so"], None, ("pp39", "pypy39_pp73")),
        (["_x.abi3.so"], ">=3.8", ("cp38", "abi3")),
        (["_x.abi3.so"], ">=3.9,<4", ("cp39", "abi3")),
        (["_x.abi3.so"], "~=3.10", ("cp310", "abi3")),
        (["_x.abi3.so"], ">3.8", ("cp38", "abi3")),
        (["_x.abi3.so"], "==3.12.*", ("cp312", "abi3")),
        (["_x.abi3.so"], ">=3", ("cp32", "abi3")),
        (["_x.abi3.so"], None, ("cp32", "abi3")),
        (["_x.abi3.so"], "<3.2", ("cp32", "abi3")),
        (["_x.abi3.so", "_y.cpython-311-x86_64-linux-gnu.so"], ">=3.8", ("cp311", "cp311")),
        (["libyaml-0.so.2", "_plain.so", "libfoo.so"], None, ("py3", "none")),
        ([], None, ("py3", "none")),
    ],
)  # fmt: skip
def test_python_tags(
    names: list[str], requires_python: str | None, expected: tuple[str, str]
) -> None:
    assert python_tags(names, requires_python) == expected


def test_python_tags_refuse_two_interpreters() -> None:
    with pytest.raises(CondapressError) as info:
        python_tags(["b.cpython-311-x86_64-linux-gnu.so", "a.cpython-310-x86_64-linux-gnu.so"])
    assert info.value.message == (
        "extension modules were built for different Pythons: "
        "a.cpython-310-x86_64-linux-gnu.so is cp310-cp310, "
        "b.cpython-311-x86_64-linux-gnu.so is cp311-cp311"
    )
    assert info.value.hint == (
        "press one conda build per Python version: a wheel serves one interpreter"
    )


@pytest.mark.parametrize(
    ("names", "requires_python", "message"),
    [
        (
            ["_x.abi3.so", "_y.cpython-313t-x86_64-linux-gnu.so"],
            ">=3.8",
            (
                "extension modules were built for different Pythons: _x.abi3.so is cp38-abi3, "
                "_y.cpython-313t-x86_64-linux-gnu.so is cp313-cp313t"
            ),
        ),
        (
            ["_x.abi3.so", "_y.cpython-38-x86_64-linux-gnu.so"],
            ">=3.9",
            (
                "extension modules were built for different Pythons: _x.abi3.so is cp39-abi3, "
                "_y.cpython-38-x86_64-linux-gnu.so is cp38-cp38"
            ),
        ),
        (
            ["_x.abi3.so", "_y.pypy39-pp73-x86_64-linux-gnu.so"],
            None,
            (
                "extension modules were built for different Pythons: _x.abi3.so is cp32-abi3, "
                "_y.pypy39-pp73-x86_64-linux-gnu.so is pp39-pypy39_pp73"
            ),
        ),
    ],
)
def test_abi3_beside_a_module_it_cannot_join(
    names: list[str], requires_python: str | None, message: str
) -> None:
    with pytest.raises(CondapressError) as info:
        python_tags(names, requires_python)
    assert info.value.message == message


@pytest.mark.parametrize(
    ("requires_python", "message"),
    [
        ("3.8+", "requires-python '3.8+' is not a version specifier"),
        (">=4", "requires-python '>=4' admits no Python 3 version"),
    ],
)
def test_abi3_floor_needs_a_usable_requires_python(requires_python: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        python_tags(["_x.abi3.so"], requires_python)
    assert info.value.message == message


def priority(tag: str) -> int:
    """auditwheel's priority of the policy *tag*: the rank a verdict of that tag carries."""
    arch = tag.rsplit("_", 1)[1] if not tag.endswith("x86_64") else "x86_64"
    policies = WheelPolicies(libc=Libc.GLIBC, arch=Architecture(arch))
    return int(policies.get_policy_by_name(tag).priority)


# platform_tag --------------------------------------------------------------------------------


def test_glibc_2_17_is_manylinux2014() -> None:
    verdict = platform_tag({"pkg/_x.so": elf(glibc("2.2.5", "2.14", "2.17"))}, wheel_libs=())
    assert verdict == PlatformVerdict(
        tag="manylinux_2_17_x86_64",
        aliases=("manylinux2014_x86_64",),
        policy="manylinux_2_17",
        limits=("pkg/_x.so needs GLIBC_2.17 (from libc.so.6)",),
        arch="x86_64",
        rank=priority("manylinux_2_17_x86_64"),
    )


def test_old_glibc_gets_the_oldest_policy() -> None:
    verdict = platform_tag({"pkg/_x.so": elf(glibc("2.2.5"))}, wheel_libs=())
    assert verdict == PlatformVerdict(
        "manylinux_2_5_x86_64",
        ("manylinux1_x86_64",),
        "manylinux_2_5",
        (),
        arch="x86_64",
        rank=priority("manylinux_2_5_x86_64"),
    )


def test_glibc_2_28() -> None:
    verdict = platform_tag({"pkg/_x.so": elf(glibc("2.14", "2.28"))}, wheel_libs=())
    assert verdict == PlatformVerdict(
        "manylinux_2_28_x86_64",
        (),
        "manylinux_2_28",
        ("pkg/_x.so needs GLIBC_2.28 (from libc.so.6)",),
        arch="x86_64",
        rank=priority("manylinux_2_28_x86_64"),
    )


def test_gcc_13_libstdcxx_needs_manylinux_2_39() -> None:
    # GLIBCXX_3.4.32 is GCC 13's libstdc++ (conda-forge's runtime); auditwheel's data first
    # lists it for manylinux_2_39.
    lib = elf(
        glibc("2.17"),
        ("libstdc++.so.6", ("GLIBCXX_3.4.21", "GLIBCXX_3.4.32")),
        needed=("libstdc++.so.6", "libc.so.6"),
    )
    verdict = platform_tag({"libgreetpp.so.1": lib}, wheel_libs=())
    assert verdict.tag == "manylinux_2_39_x86_64"
    assert verdict.limits == (
        "libgreetpp.so.1 needs GLIBCXX_3.4.32 (from libstdc++.so.6)",
        "libgreetpp.so.1 needs GLIBC_2.17 (from libc.so.6)",
    )


def test_unknown_glibc_version_is_plain_linux() -> None:
    verdict = platform_tag({"x.so": elf(glibc("2.17", "PRIVATE"))}, wheel_libs=())
    assert verdict == PlatformVerdict(
        "linux_x86_64", (), "linux", ("x.so needs GLIBC_PRIVATE (from libc.so.6)",), arch="x86_64"
    )


def test_library_neither_in_wheel_nor_whitelisted_is_plain_linux() -> None:
    foo = elf(glibc("2.5"), needed=("libbar.so.2", "libc.so.6"))
    verdict = platform_tag({"foo.so": foo}, wheel_libs=())
    assert verdict == PlatformVerdict(
        "linux_x86_64",
        (),
        "linux",
        ("foo.so needs libbar.so.2, which is not in the wheel and not on the manylinux whitelist",),
        arch="x86_64",
    )


def test_library_shipped_in_the_wheel_is_no_limit() -> None:
    foo = elf(
        glibc("2.5"),
        ("libbar.so.2", ("BAR_1.0",)),
        ("libz.so.1", ("ZLIB_1.2.13",)),
        needed=("libbar.so.2", "libz.so.1", "libc.so.6"),
    )
    bar = elf(glibc("2.5"))
    elfs = {"pkg/foo.so": foo, "pkg.libs/libbar.so.2": bar, "pkg.libs/libz.so.1": bar}
    verdict = platform_tag(elfs, wheel_libs={"libbar.so.2", "libz.so.1"})
    assert verdict.tag == "manylinux_2_5_x86_64"
    assert verdict.limits == ()


def test_library_whitelisted_only_by_newer_policies() -> None:
    foo = elf(glibc("2.5"), needed=("libmvec.so.1", "libc.so.6"))
    verdict = platform_tag({"foo.so": foo}, wheel_libs=())
    assert verdict.tag == "manylinux_2_24_x86_64"
    assert verdict.limits == (
        (
            "foo.so needs libmvec.so.1, which is not in the wheel and on the manylinux whitelist "
            "only from manylinux_2_24"
        ),
    )


def test_dynamic_loader_is_left_out() -> None:
    # Like auditwheel: the loader ships with libc, and the policies do not list its versions.
    exe = elf(
        glibc("2.5"),
        ("ld-linux-x86-64.so.2", ("GLIBC_2.3", "GLIBC_PRIVATE")),
        needed=("ld-linux-x86-64.so.2", "libc.so.6"),
    )
    assert platform_tag({"bin/x": exe}, wheel_libs=()).tag == "manylinux_2_5_x86_64"


def test_versions_of_unknown_prefixes_are_judged_by_the_soname() -> None:
    foo = elf(("libssl.so.3", ("OPENSSL_3.0.0",)), needed=("libssl.so.3",))
    assert platform_tag({"foo.so": foo}, wheel_libs=()).limits == (
        "foo.so needs libssl.so.3, which is not in the wheel and not on the manylinux whitelist",
    )


def test_limits_most_restrictive_first_one_per_file_and_prefix() -> None:
    elfs = {
        "b.so": elf(glibc("2.12", "2.14", "2.17")),
        "a.so": elf(
            glibc("2.28", "2.27"), ("libstdc++.so.6", ("GLIBCXX_3.4.22",)), needed=("libc.so.6",)
        ),
    }
    verdict = platform_tag(elfs, wheel_libs=())
    assert verdict.tag == "manylinux_2_28_x86_64"
    assert verdict.limits == (
        "a.so needs GLIBC_2.28 (from libc.so.6)",
        "a.so needs GLIBCXX_3.4.22 (from libstdc++.so.6)",
        "b.so needs GLIBC_2.17 (from libc.so.6)",
    )


@pytest.mark.parametrize(
    ("machine", "tag", "aliases"),
    [
        ("aarch64", "manylinux_2_17_aarch64", ("manylinux2014_aarch64",)),
        ("i686", "manylinux_2_17_i686", ("manylinux2014_i686",)),
        ("ppc64le", "manylinux_2_17_ppc64le", ("manylinux2014_ppc64le",)),
        ("s390x", "manylinux_2_17_s390x", ("manylinux2014_s390x",)),
    ],
)
def test_other_architectures(machine: str, tag: str, aliases: tuple[str, ...]) -> None:
    verdict = platform_tag({"x.so": elf(glibc("2.17"), machine=machine)}, wheel_libs=())
    assert (verdict.tag, verdict.aliases) == (tag, aliases)


def test_architecture_without_policy() -> None:
    verdict = platform_tag({"x.so": elf(glibc("2.17"), machine="mips")}, wheel_libs=())
    assert verdict == PlatformVerdict(
        "linux_mips",
        (),
        "linux",
        ("auditwheel has no manylinux policy for the mips architecture",),
        arch="mips",
    )


def test_mixed_architectures_are_refused() -> None:
    elfs = {"a.so": elf(glibc("2.17")), "b.so": elf(glibc("2.17"), machine="aarch64")}
    with pytest.raises(CondapressError) as info:
        platform_tag(elfs, wheel_libs=())
    assert info.value.message == "b.so is built for aarch64, but the wheel is for x86_64"
    with pytest.raises(CondapressError) as info:
        platform_tag({"a.so": elf(glibc("2.17"))}, wheel_libs=(), arch="aarch64")
    assert info.value.message == "a.so is built for x86_64, but the wheel is for aarch64"


def test_no_elf_is_the_callers_business() -> None:
    with pytest.raises(ValueError, match="tagged 'any'"):
        platform_tag({}, wheel_libs=())


@given(st.sets(st.sampled_from(["2.2.5", "2.3", "2.12", "2.14", "2.17", "2.24", "2.28", "2.34"])))
def test_tag_follows_the_highest_glibc_version(versions: set[str]) -> None:
    verdict = platform_tag({"x.so": elf(glibc(*versions))}, wheel_libs=())
    highest = max((tuple(map(int, v.split("."))) for v in versions), default=(2, 5))
    # the oldest policy with a glibc at least as new: 2.3 and 2.14 round up to 2.5 and 2.17
    policies = [(2, 5), (2, 12), (2, 17), (2, 24), (2, 28), (2, 34)]
    minor = next(p for p in policies if p >= highest)[1]
    assert verdict.tag == f"manylinux_2_{minor}_x86_64"
    check_requested(verdict, verdict.tag)


# wheel_tags / check_requested ----------------------------------------------------------------

MANYLINUX_2_35 = PlatformVerdict(
    "manylinux_2_35_x86_64",
    (),
    "manylinux_2_35",
    (
        "libgreetpp.so.1 needs GLIBCXX_3.4.30 (from libstdc++.so.6)",
        "libgreetpp.so.1 needs GLIBC_2.17 (from libc.so.6)",
    ),
    arch="x86_64",
    rank=priority("manylinux_2_35_x86_64"),
)


def test_wheel_tags_in_auditwheel_order() -> None:
    verdict = platform_tag({"x.so": elf(glibc("2.17"))}, wheel_libs=())
    assert wheel_tags("cp311", "cp311", verdict) == (
        "cp311-cp311-manylinux_2_17_x86_64",
        "cp311-cp311-manylinux2014_x86_64",
    )
    assert wheel_tags("cp38", "abi3", MANYLINUX_2_35) == ("cp38-abi3-manylinux_2_35_x86_64",)


@pytest.mark.parametrize(
    "requested",
    [
        "manylinux_2_35_x86_64",
        "manylinux_2_39_x86_64",
        "manylinux_2_39",
        "linux_x86_64",
    ],
)
def test_requests_the_binaries_honour(requested: str) -> None:
    check_requested(MANYLINUX_2_35, requested)


@pytest.mark.parametrize("requested", ["manylinux2014_x86_64", "manylinux_2_17_x86_64"])
def test_requests_the_binaries_cannot_honour(requested: str) -> None:
    with pytest.raises(PolicyViolation) as info:
        check_requested(MANYLINUX_2_35, requested)
    assert info.value.message == (
        f"the binaries cannot be tagged {requested}: "
        "libgreetpp.so.1 needs GLIBCXX_3.4.30 (from libstdc++.so.6)"
    )
    assert info.value.hint == (
        "the most compatible tag they allow is manylinux_2_35_x86_64; ask for that with --plat, "
        "or pass --runtime bundle"
    )


def test_linux_verdict_honours_no_manylinux_request() -> None:
    verdict = platform_tag({"x.so": elf(glibc("PRIVATE"))}, wheel_libs=())
    check_requested(verdict, "linux_x86_64")
    with pytest.raises(PolicyViolation) as info:
        check_requested(verdict, "manylinux_2_41_x86_64")
    assert info.value.message == (
        "the binaries cannot be tagged manylinux_2_41_x86_64: "
        "x.so needs GLIBC_PRIVATE (from libc.so.6)"
    )


@pytest.mark.parametrize("requested", ["manylinux_2_17_aarch64", "musllinux_1_2_x86_64", "any"])
def test_requests_that_are_not_tags_for_the_architecture(requested: str) -> None:
    with pytest.raises(SpecError) as info:
        check_requested(MANYLINUX_2_35, requested)
    assert info.value.message == f"{requested!r} is not a platform tag for x86_64"
    assert info.value.hint == "ask for a tag such as manylinux_2_28_x86_64, or leave --plat out"


# bounded_by_requirements -----------------------------------------------------------------------


def verdict(*versions: str, path: str = "lib.so") -> PlatformVerdict:
    return platform_tag({path: elf(glibc(*versions))}, wheel_libs=())


def test_a_wheel_promises_no_more_than_the_wheels_it_requires() -> None:
    # split cffi: its own binaries allow manylinux_2_5, libffi-conda's need manylinux_2_12
    own = verdict("2.4", path="_cffi_backend.so")
    libffi = verdict("2.7", path="libffi_conda.libs/libffi.so.8")
    got = bounded_by_requirements(
        {"cffi": own, "libffi-conda": libffi, "pycparser": None},
        {"cffi": ("libffi-conda", "pycparser")},
    )
    assert (own.tag, libffi.tag) == ("manylinux_2_5_x86_64", "manylinux_2_12_x86_64")
    assert got["libffi-conda"] == libffi
    assert got["pycparser"] is None
    assert got["cffi"] == PlatformVerdict(
        "manylinux_2_12_x86_64",
        ("manylinux2010_x86_64",),
        "manylinux_2_12",
        (
            (
                "requires libffi-conda, which is tagged manylinux_2_12_x86_64 "
                "(libffi_conda.libs/libffi.so.8 needs GLIBC_2.7 (from libc.so.6))"
            ),
        ),
        arch="x86_64",
        rank=priority("manylinux_2_12_x86_64"),
    )


def test_bounds_pass_through_wheels_without_binaries_and_chains() -> None:
    low, mid, high = verdict("2.4"), verdict("2.17"), verdict("2.28", path="c.so")
    got = bounded_by_requirements(
        {"a": low, "pure": None, "b": mid, "c": high},
        {"a": ("pure",), "pure": ("b",), "b": ("c",)},
    )
    assert got["pure"] is None  # a wheel without binaries stays 'any'
    assert got["c"] == high
    limit = (
        "requires c, which is tagged manylinux_2_28_x86_64 (c.so needs GLIBC_2.28 (from libc.so.6))"
    )
    assert got["a"] == replace(high, limits=(limit,))
    assert got["b"] == replace(high, limits=(limit, *mid.limits))


def test_own_binaries_that_need_more_keep_their_verdict_and_cycles_end() -> None:
    low, high = verdict("2.4"), verdict("2.28")
    got = bounded_by_requirements({"a": high, "b": low}, {"a": ("b",), "b": ("a",)})
    limit = f"requires a, which is tagged manylinux_2_28_x86_64 ({high.limits[0]})"
    assert got == {"a": high, "b": replace(high, limits=(limit,))}
