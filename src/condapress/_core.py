"""The pipeline, stage by stage: orchestration only, no decisions of its own."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from condapress import plan, solve
from condapress._facts import gather_facts

if TYPE_CHECKING:
    from condapress.model import PlanOptions, WheelPlan
    from condapress.solve import SolveRequest

__all__ = ["make_plan"]

logger = logging.getLogger(__name__)


def make_plan(request: SolveRequest, options: PlanOptions) -> WheelPlan:
    """Resolve *request* and plan its wheels (``condapress plan``)."""
    # 1. resolve: specs -> closure, on the channels, for the target interpreter and platform
    closure = solve.resolve(request)
    # 2. learn from the archives at hand (local channels, the cache) what metadata cannot say
    cache_dir = request.cache_dir or solve.default_cache_dir()
    facts = gather_facts(closure, cache_dir)
    # 3. plan: classify every package and decide what it becomes
    return plan.plan(closure, facts, options)
