"""The pipeline, stage by stage: orchestration only, no decisions of its own."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from condapress import _folders, solve
from condapress._disk import write_hint
from condapress._paths import destination
from condapress.errors import PolicyViolation, WriteError, printable
from condapress.model import BuiltWheel, DataPaths, PlanOptions, PressResult, WheelContents
from condapress.unpack._peek import gather_facts

if TYPE_CHECKING:
    from condapress import relocate, retag
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
    #: when two merged packages ship different files at one wheel path, keep the first
    #: package's (in the plan's member order) with a warning, instead of refusing.
    allow_overlap: bool = False


def make_plan(request: SolveRequest, options: PlanOptions) -> WheelPlan:
    """Resolve *request* and plan its wheels (``condapress plan``)."""
    return _plan(request, options, fetch_roots=False)


def _plan(request: SolveRequest, options: PlanOptions, *, fetch_roots: bool) -> WheelPlan:
    # 1. resolve: specs -> closure, on the channels, for the target interpreter and platform
    closure = solve.resolve(request)
    cache_dir = request.cache_dir or solve.default_cache_dir()
    if fetch_roots:
        # A press needs the roots anyway, and their own METADATA decides names and Requires-Dist
        from condapress import unpack  # noqa: PLC0415 - see press()

        for record in closure.records:
            if record.name in closure.roots:
                unpack.fetch(record, cache_dir, timeout=request.timeout)
    # 2. learn from the archives at hand (local channels, the cache) what metadata cannot say
    facts = gather_facts(closure, cache_dir, timeout=request.timeout)
    # 3. plan: classify every package and decide what it becomes (networkx loads slowly: a
    # spec that does not solve is reported without it)
    from condapress import plan  # noqa: PLC0415

    return plan.plan(closure, facts, options)


def press(request: SolveRequest, options: PressOptions) -> PressResult:
    """Resolve, plan, unpack, relocate, retag and assemble: write the wheels of *request*.

    The wheels land in ``options.output_dir`` all together or not at all.

    :raises OutputError: before any work, when the output folder cannot take the wheels; at the
        end, when a folder is in the way of a wheel (then no wheel lands).
    """
    # The press stages load pyelftools, auditwheel and zlib machinery: 'condapress plan',
    # which needs none of them, starts faster without them.
    from condapress import plan, relocate, retag, unpack  # noqa: PLC0415
    from condapress.assemble import _metadata  # noqa: PLC0415

    # 0. the output folder first: a press whose wheels could not land does no work
    _folders.check_output_dir(options.output_dir)
    the_plan = _plan(request, options.plan, fetch_roots=True)
    cache_dir = request.cache_dir or solve.default_cache_dir()
    records = {rec.name: rec for rec in the_plan.closure.records}
    members = sorted({name for wheel in the_plan.wheels for name in wheel.members})
    with _folders.work_folder() as work:
        # 4. unpack: fetch (sha256 checked) and extract every package that goes into a wheel
        packages = {
            name: unpack.extract(
                unpack.fetch(records[name], cache_dir, timeout=request.timeout),
                destination(work / "pkgs", name),
                record=records[name],
            )
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
                allow_overlap=options.allow_overlap,
            )
            for wheel in the_plan.wheels
        }
        staged: list[WheelContents] = []
        binaries: dict[str, tuple[str, str, retag.PlatformVerdict] | None] = {}
        for wheel in the_plan.wheels:
            layout = relocate.with_environment(
                layouts[wheel.distribution], wheel, the_plan.wheels, layouts, packages
            )
            stage = destination(work / "stage", wheel.distribution)
            sites = relocate.apply(layout, packages, stage, jobs=options.jobs)
            pressed = _metadata.in_the_wheel(wheel, layout)
            # 6. retag: python/abi tags from the extension modules, platform from the binaries
            external = {mangled for _, mangled in others[wheel.distribution].values()}
            binaries[wheel.distribution] = _binaries(layout, stage, external)
            staged.append(
                WheelContents(
                    metadata=_metadata.core_metadata(pressed, packages),
                    tags=(),  # once every wheel's binaries are known, below
                    root_is_purelib=not layout.elf_edits,
                    files=tuple(sorted((path, stage / path) for path in _staged_paths(layout))),
                    executables=frozenset(p.dest for p in layout.placements if p.executable)
                    | {launcher.dest for launcher in layout.launchers},
                    entry_points=_metadata.entry_points(pressed, packages),
                    provenance=_metadata.provenance(pressed, records),
                    runtime=options.plan.runtime,
                    data_paths=DataPaths(layout.libs_dir, layout.environment, sites)
                    if sites or layout.environment
                    else None,
                )
            )
        # 6. retag, continued: no wheel promises more than the wheels it requires
        verdicts = retag.bounded_by_requirements(
            {name: own[2] if own else None for name, own in binaries.items()},
            {wheel.distribution: wheel.wheel_dependencies for wheel in the_plan.wheels},
        )
        staged = [
            replace(contents, tags=_tags(binaries[name], verdicts[name], options.plat))
            for contents, name in zip(
                staged, (wheel.distribution for wheel in the_plan.wheels), strict=True
            )
        ]
        # 7. assemble, then 8. audit: only once every wheel is staged, into a hidden folder
        # beside the output, so that a failure anywhere lands no wheel
        built = _assemble_and_audit(staged, options)
    return PressResult(plan=the_plan, wheels=built)


def _assemble_and_audit(
    staged: list[WheelContents], options: PressOptions
) -> tuple[BuiltWheel, ...]:
    from condapress import assemble, audit  # noqa: PLC0415 - see press()

    with _folders.pending_folder(options.output_dir) as pending:
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
        except WriteError as exc:
            # written into a hidden folder of the output folder: the hint names the latter
            if isinstance(exc.__cause__, OSError):
                exc.hint = write_hint(exc.__cause__, options.output_dir, "pass -o with")
            raise
        if options.audit:
            for wheel in built:
                report = audit.audit_wheel(wheel.path)
                for finding in report.findings:
                    level, message = _LOG_LEVEL[finding.level.value], printable(finding.message)
                    logger.log(level, "%s: %s", wheel.path.name, message)
                errors = [f for f in report.findings if f.level is audit.Level.ERROR]
                if errors:
                    raise PolicyViolation(
                        f"{wheel.path.name} fails its audit: {errors[0].message}",
                        hint=f"{errors[0].hint}; 'condapress audit' explains every finding, "
                        "--no-audit writes the wheel anyway",
                        path=str(wheel.path.name),
                    )
        landed = _folders.land([wheel.path for wheel in built], options.output_dir, pending)
        return tuple(replace(wheel, path=path) for wheel, path in zip(built, landed, strict=True))


def _staged_paths(layout: relocate.Layout) -> list[str]:
    from condapress.relocate._hook import hook_module  # noqa: PLC0415 - see press()

    return (
        [p.dest for p in layout.placements]
        + [launcher.dest for launcher in layout.launchers]
        + [hook_module(init) for init in layout.hooks]
    )


def _binaries(
    layout: relocate.Layout, stage: Path, external: set[str]
) -> tuple[str, str, retag.PlatformVerdict] | None:
    """The python and ABI tags and the platform verdict of a wheel's binaries; None: none."""
    from condapress import _elf, retag  # noqa: PLC0415 - see press()

    elfs = {edit.dest: _elf.read_elf(stage / edit.dest) for edit in layout.elf_edits}
    if not elfs:
        return None
    extensions = [dest for dest in elfs if not dest.startswith(layout.libs_dir + "/")]
    python, abi = retag.python_tags(extensions)
    libs = {elf.soname for elf in elfs.values() if elf.soname} | external
    return python, abi, retag.platform_tag(elfs, wheel_libs=libs)


def _tags(
    binaries: tuple[str, str, retag.PlatformVerdict] | None,
    verdict: retag.PlatformVerdict | None,
    plat: str | None,
) -> tuple[str, ...]:
    from condapress import retag  # noqa: PLC0415 - see press()

    if binaries is None or verdict is None:
        return ("py3-none-any",)
    if plat is not None:
        retag.check_requested(verdict, plat)
        verdict = retag.requested_verdict(verdict, plat)
    return retag.wheel_tags(binaries[0], binaries[1], verdict)
