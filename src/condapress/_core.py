"""The pipeline, stage by stage: orchestration only, no decisions of its own."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from condapress import plan, solve
from condapress._facts import gather_facts
from condapress.errors import PolicyViolation
from condapress.model import BuiltWheel, DataPaths, PlanOptions, PressResult, WheelContents

if TYPE_CHECKING:
    from condapress import relocate
    from condapress.model import WheelPlan
    from condapress.solve import SolveRequest

__all__ = ["PressOptions", "make_plan", "press"]

logger = logging.getLogger(__name__)

_LOG_LEVEL = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


@dataclass(frozen=True, slots=True)
class PressOptions:
    """How to press, beyond what to solve: plan options, output folder, compression."""

    plan: PlanOptions = field(default_factory=PlanOptions)
    output_dir: Path = Path("wheelhouse")
    compression_level: int = 6
    #: audit every wheel before it lands, and refuse one with an error-level finding.
    audit: bool = True
    #: the platform tag asked for (``--plat``); the binaries must honour it.
    plat: str | None = None
    #: threads for compression and patchelf; the wheels' bytes do not depend on it.
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)


def make_plan(request: SolveRequest, options: PlanOptions) -> WheelPlan:
    """Resolve *request* and plan its wheels (``condapress plan``)."""
    # 1. resolve: specs -> closure, on the channels, for the target interpreter and platform
    closure = solve.resolve(request)
    # 2. learn from the archives at hand (local channels, the cache) what metadata cannot say
    cache_dir = request.cache_dir or solve.default_cache_dir()
    facts = gather_facts(closure, cache_dir)
    # 3. plan: classify every package and decide what it becomes
    return plan.plan(closure, facts, options)


def press(request: SolveRequest, options: PressOptions) -> PressResult:
    """Resolve, plan, unpack, relocate, retag and assemble: write the wheels of *request*."""
    # The press stages load pyelftools, auditwheel and zlib machinery: 'condapress plan',
    # which needs none of them, starts faster without them.
    from condapress import _metadata, relocate, retag, unpack  # noqa: PLC0415

    the_plan = make_plan(request, options.plan)
    cache_dir = request.cache_dir or solve.default_cache_dir()
    records = {rec.name: rec for rec in the_plan.closure.records}
    members = sorted({name for wheel in the_plan.wheels for name in wheel.members})
    with tempfile.TemporaryDirectory(prefix="condapress-") as tmp:
        work = Path(tmp)
        # 4. unpack: fetch (sha256 checked) and extract every package that goes into a wheel
        packages = {
            name: unpack.extract(unpack.fetch(records[name], cache_dir), work / "pkgs" / name)
            for name in members
        }
        elfs = {name: relocate.scan(package) for name, package in packages.items()}
        provided = {
            wheel.distribution: relocate.provided_sonames(wheel, packages, elfs)
            for wheel in the_plan.wheels
        }
        others = {
            wheel.distribution: {
                soname: where
                for dependency in wheel.wheel_dependencies
                for soname, where in provided[dependency].items()
            }
            for wheel in the_plan.wheels
        }
        # 5. relocate: plan every path and ELF edit of every wheel first (the variables that
        # point a wheel's packages at their data may name the wheels it requires), then write
        layouts = {
            wheel.distribution: relocate.plan_layout(
                wheel,
                packages,
                elfs,
                others=others[wheel.distribution],
                graft_only_needed=frozenset(
                    m for m in wheel.members if plan.is_compiler_runtime(m)
                ),
                is_system=retag.is_system_library,
            )
            for wheel in the_plan.wheels
        }
        staged: list[WheelContents] = []
        for wheel in the_plan.wheels:
            layout = relocate.with_environment(
                layouts[wheel.distribution], wheel, the_plan.wheels, layouts, packages
            )
            stage = work / "stage" / wheel.distribution
            sites = relocate.apply(layout, packages, stage, jobs=options.jobs)
            # 6. retag: python/abi tags from the extension modules, platform from the binaries
            external = {mangled for _, mangled in others[wheel.distribution].values()}
            tags = _tags(layout, stage, external, options.plat)
            staged.append(
                WheelContents(
                    metadata=_metadata.core_metadata(wheel, packages),
                    tags=tags,
                    root_is_purelib=not layout.elf_edits,
                    files=tuple(sorted((path, stage / path) for path in _staged_paths(layout))),
                    executables=frozenset(p.dest for p in layout.placements if p.executable)
                    | {launcher.dest for launcher in layout.launchers},
                    entry_points=_metadata.entry_points(wheel, packages),
                    provenance=_metadata.provenance(wheel, records),
                    runtime=options.plan.runtime,
                    data_paths=DataPaths(layout.libs_dir, layout.environment, sites)
                    if sites or layout.environment
                    else None,
                )
            )
        # 7. assemble, then 8. audit: only once every wheel is staged, into a hidden folder
        # beside the output, so that a failure anywhere lands no wheel
        built = _assemble_and_audit(staged, options)
    return PressResult(plan=the_plan, wheels=built)


def _assemble_and_audit(
    staged: list[WheelContents], options: PressOptions
) -> tuple[BuiltWheel, ...]:
    from condapress import assemble, audit  # noqa: PLC0415 - see press()

    created = not options.output_dir.exists()
    options.output_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(options.output_dir)
    pending = Path(tempfile.mkdtemp(prefix=f".condapress-{os.getpid()}-", dir=options.output_dir))
    landed = False
    try:
        built = [
            assemble.build_wheel(
                contents,
                pending,
                compression_level=options.compression_level,
                jobs=options.jobs,
            )
            for contents in staged
        ]
        if options.audit:
            for wheel in built:
                report = audit.audit_wheel(wheel.path)
                for finding in report.findings:
                    logger.log(
                        _LOG_LEVEL[finding.level.value], "%s: %s", wheel.path.name, finding.message
                    )
                errors = [f for f in report.findings if f.level is audit.Level.ERROR]
                if errors:
                    raise PolicyViolation(
                        f"{wheel.path.name} fails its audit: {errors[0].message}",
                        hint=f"{errors[0].hint}; 'condapress audit' explains every finding, "
                        "--no-audit writes the wheel anyway",
                        path=str(wheel.path.name),
                    )
        moved = []
        for wheel in built:
            final = options.output_dir / wheel.path.name
            wheel.path.replace(final)
            moved.append(replace(wheel, path=final))
        landed = True
        return tuple(moved)
    finally:
        shutil.rmtree(pending, ignore_errors=True)
        if created and not landed:
            with contextlib.suppress(OSError):  # only if still empty
                options.output_dir.rmdir()


def _remove_abandoned(output_dir: Path) -> None:
    """Remove the hidden work folders of presses that were killed (SIGKILL) while writing."""
    for folder in output_dir.glob(".condapress-*-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _staged_paths(layout: relocate.Layout) -> list[str]:
    from condapress._hook import hook_module  # noqa: PLC0415 - see press()

    return (
        [p.dest for p in layout.placements]
        + [launcher.dest for launcher in layout.launchers]
        + [hook_module(init) for init in layout.hooks]
    )


def _tags(
    layout: relocate.Layout, stage: Path, external: set[str], plat: str | None
) -> tuple[str, ...]:
    from condapress import _elf, retag  # noqa: PLC0415 - see press()

    elfs = {edit.dest: _elf.read_elf(stage / edit.dest) for edit in layout.elf_edits}
    if not elfs:
        return ("py3-none-any",)
    extensions = [dest for dest in elfs if not dest.startswith(layout.libs_dir + "/")]
    python, abi = retag.python_tags(extensions)
    libs = {elf.soname for elf in elfs.values() if elf.soname} | external
    verdict = retag.platform_tag(elfs, wheel_libs=libs)
    if plat is not None:
        retag.check_requested(verdict, plat)
        verdict = retag.requested_verdict(verdict, plat)
    return retag.wheel_tags(python, abi, verdict)
