from __future__ import annotations

import pytest

import condapress


def test_public_names() -> None:
    assert dir(condapress) == condapress.__all__
    for name in condapress.__all__:
        assert getattr(condapress, name) is not None
    with pytest.raises(AttributeError, match="module 'condapress' has no attribute 'plan_'"):
        _ = condapress.plan_


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("nan")])
def test_a_timeout_must_be_seconds_above_zero(timeout: float) -> None:
    from condapress import solve
    from condapress.errors import SpecError

    with pytest.raises(SpecError) as exc:
        solve.resolve(condapress.SolveRequest(specs=("tally",), timeout=timeout))
    assert str(exc.value) == f"timeout {timeout:g} is not a number of seconds above 0"
    assert exc.value.hint == "pass the seconds a download may take, e.g. --timeout 300"
