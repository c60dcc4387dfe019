"""01's headroom arithmetic on hand-made rows."""

import math

import pandas as pd
import pytest

from scalelab.experiments.baseline import generator_capacity, generator_headroom


def rows(limits):
    return pd.DataFrame([dict(users=u, limit=lim, generator_load=0.1 * u,
                              generator_cpu_ms_per_req=0.5) for u, lim in limits])


def test_headroom_is_taken_at_the_busiest_server_bound_point():
    h = generator_headroom(rows([(1, "unexplained"), (4, "server"), (8, "server"),
                                 (16, "generator")]), server_req_s=100.0, generator_cpus=1)
    assert h.users == 8 and h.generator_req_s == pytest.approx(2000)
    assert h.ratio == pytest.approx(20)


def test_no_server_bound_point_gives_no_headroom():
    assert generator_headroom(rows([(1, "unexplained"), (2, "generator")]), 100.0, 1) is None


def test_generator_capacity_scales_with_its_cpus_and_is_nan_without_a_cost():
    assert generator_capacity(0.5, 2) == pytest.approx(4000)
    assert math.isnan(generator_capacity(float("nan"), 1))
    assert math.isnan(generator_capacity(0.0, 1))


@pytest.mark.parametrize("cpus", [0, -1, 1.5, True])
def test_generator_cpus_must_be_a_positive_whole_number(cpus):
    with pytest.raises(ValueError, match="generator_cpus"):
        generator_headroom(rows([(1, "server")]), 100.0, cpus)
