"""The pipeline as a recipe: each step is one stage's entry function; no decisions are made here."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from condapress import _folders, solve, unpack
from condapress._progress import NULL_REPORTER

if TYPE_CHECKING:
    from collections.abc import Sequence

    from condapress._progress import Reporter
    from condapress.model import PlanOptions, PressOptions, PressResult, SolveRequest, WheelPlan

__all__ = ["make_plan", "press", "press_each"]


def make_plan(
    request: SolveRequest, options: PlanOptions, *, reporter: Reporter = NULL_REPORTER
) -> WheelPlan:
    """Resolve *request* and plan its wheels (``condapress plan``).

    :param reporter: told about the solve and the downloads (:mod:`condapress._progress`).
    """
    # the plan loads packaging's and the tables' modules: a spec that does not solve is
    # reported without them
    from condapress import plan  # noqa: PLC0415

    cache_dir = request.cache_dir or _folders.default_cache_dir()
    # 1. resolve: specs -> closure (a local archive's own dependencies solved on the channels)
    local = unpack.local_records(request.specs)
    closure = solve.resolve(request, local=local, reporter=reporter)
    # 2. peek: what the archives say that repodata cannot (python files, names, requirements)
    wanted = plan.facts_wanted(closure)
    facts = unpack.peek(closure, wanted, cache_dir, timeout=request.timeout, reporter=reporter)
    # 3. plan: every package's class and what it becomes, with the reasons
    return plan.plan(closure, facts, options)


def press(request: SolveRequest, options: PressOptions) -> PressResult:
    """Resolve, plan, unpack, relocate, retag, assemble, audit, check, smoke: press *request*.

    The wheels land in ``options.output_dir`` all together or not at all.

    :raises OutputError: before any work, when the output folder cannot take the wheels; at the
        end, when a folder is in the way of a wheel (then no wheel lands).
    """
    # The press stages load pyelftools, auditwheel and zlib machinery that 'condapress plan'
    # does without.
    from condapress import assemble, audit, formats, relocate, retag, smoke  # noqa: PLC0415
    from condapress.model import PressResult  # noqa: PLC0415

    # 0. the output folder first: a press whose wheels could not land does no work
    _folders.check_output_dir(options.output_dir)
    reporter = options.reporter
    the_plan = make_plan(request, options.plan, reporter=reporter)
    fmt = formats.for_subdir(the_plan.closure.subdir)
    cache_dir = request.cache_dir or _folders.default_cache_dir()
    records = {record.name: record for record in the_plan.closure.records}
    with _folders.work_folder() as work:
        # 4. unpack: fetch (verified) and extract every package that goes into a wheel
        packages = unpack.unpack(
            the_plan,
            cache_dir,
            work / "pkgs",
            timeout=request.timeout,
            jobs=options.jobs,
            reporter=reporter,
        )
        # 5. relocate: plan every path and binary edit, then stage each wheel's files
        staged = relocate.relocate(
            the_plan,
            packages,
            work / "stage",
            fmt,
            allow_overlap=options.allow_overlap,
            jobs=options.jobs,
            reporter=reporter,
        )
        # 6. retag: python/abi tags from the extension modules, platform from the binaries
        tagged = retag.tag(staged, fmt, plat=options.plat)
        # 7. assemble into a hidden folder of the output folder: the wheels land only once
        # every gate below passed, so a failure anywhere lands no wheel
        with _folders.pending_folder(options.output_dir) as pending:
            built = [
                assemble.assemble(
                    wheel,
                    packages,
                    records,
                    pending,
                    runtime=the_plan.runtime,
                    compression_level=options.compression_level,
                    jobs=options.jobs,
                    reporter=reporter,
                )
                for wheel in tagged
            ]
            # 8. audit: what installers and loaders would trip on
            audits = audit.gate(built) if options.audit else ()
            # 9. check: what PyPI would refuse on upload
            limit = options.max_file_size
            checks = audit.check_gate(built, max_file_size=limit) if options.check else ()
            # 10. smoke: install the wheels into a fresh venv, import them, run the code
            if options.smoke is not None:
                smoke.smoke(
                    [wheel.path for wheel in built],
                    options.smoke,
                    python=the_plan.closure.python,
                    work=work / "smoke",
                )
            landed = _folders.land([wheel.path for wheel in built], options.output_dir, pending)
    # the scans were for the gates: a result does not keep every member's tables
    wheels = tuple(
        replace(wheel, path=path, scan=None) for wheel, path in zip(built, landed, strict=True)
    )
    return PressResult(plan=the_plan, wheels=wheels, audits=audits, checks=checks)


def press_each(
    request: SolveRequest, pythons: Sequence[str], options: PressOptions
) -> tuple[PressResult, ...]:
    """Press *request* for each of *pythons* in turn (``--python 3.11 --python 3.12``).

    Every press waits in a hidden folder of the output folder; the wheels land all together
    once each press passed its gates, or none does. A wheel two presses make alike (a pure
    wheel of the closure) lands once.

    :raises OutputError: two presses make different wheels of the same file name.
    """
    _folders.check_output_dir(options.output_dir)
    with _folders.pending_folder(options.output_dir) as held:
        results = [
            press(
                replace(request, python=python),
                replace(options, output_dir=held / f"python-{number}"),
            )
            for number, python in enumerate(pythons)
        ]
        unique = _folders.distinct([w.path for r in results for w in r.wheels])
        (held / "spare").mkdir()
        moved = _folders.land(unique, options.output_dir, held / "spare")
        landed = dict(zip(unique, moved, strict=True))
    return tuple(
        replace(
            result,
            wheels=tuple(
                replace(w, path=landed.get(w.path, options.output_dir / w.path.name))
                for w in result.wheels
            ),
        )
        for result in results
    )
