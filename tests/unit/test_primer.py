"""The primer's simulated queue behaves as queueing theory says, and refuses bad input."""

import pandas as pd
import pytest

from scalelab.experiments import primer


def test_a_closed_load_rises_to_the_knee_then_holds_at_capacity():
    df = primer.closed_sweep([1, 2, 12, 32], service_ms=10, think_ms=50, requests=5000)
    assert primer.knee(10, 50) == 6
    low, high = df.iloc[0], df.iloc[-1]
    assert low.X_req_s == pytest.approx(1000 / 60, rel=0.1), "one user: one request per D + Z"
    assert high.X_req_s == pytest.approx(100, rel=0.05), "past the knee: 1 / D"
    assert high.U > 0.98 and low.U < 0.25
    assert high.R_ms == pytest.approx(32 * 10 - 50, rel=0.1), "R = N D - Z past the knee"
    assert (df.X_req_s <= df[["X_no_queue", "X_capacity"]].min(axis=1) * 1.05).all()


def test_littles_law_holds_on_an_open_run_and_overload_grows_without_bound():
    ok = primer.open_load(50, service_ms=10, seconds=20)
    law = primer.littles_law(ok)
    assert law["L_time_average"] == pytest.approx(law["lambda_x_W"], rel=0.01)
    over = primer.open_load(150, service_ms=10, seconds=20)
    tenth = len(over) // 10
    assert over.R_ms.iloc[-tenth:].mean() > 20 * over.R_ms.iloc[:tenth].mean()


def test_a_closed_generator_hides_a_stall_that_the_intended_schedule_shows():
    co = primer.stall(service_ms=5, interval_ms=10, seconds=10, stall_at_s=5, stall_s=1)
    assert co["intended_requests"] == 1000 and co["closed_requests"] < 1000
    assert co["closed_p99_ms"] < 50 < 500 < co["intended_p99_ms"]


@pytest.mark.parametrize("call,name", [
    (lambda: primer.closed(0), "users"), (lambda: primer.closed(2, service_ms=0), "service_ms"),
    (lambda: primer.closed(2, think_ms=-1), "think_ms"), (lambda: primer.open_load(0), "rate_per_s"),
    (lambda: primer.knee(10, float("nan")), "think_ms")])
def test_bad_input_is_refused_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("sigma, said", [(0.15, "of the same order as"), (0.02, "well below"),
                                         (0.8, "well above")])
def test_the_usl_solution_compares_the_fitted_sigma_with_one_users_share(sigma, said):
    from scalelab.verdicts.usl import usl

    users = [1, 2, 3, 4, 6, 8, 12, 16]
    sweep = pd.DataFrame({"users": users, "X_req_s": usl(users, 16.7, sigma, 0.0)})
    text = primer.usl_solution(sweep, service_ms=10, think_ms=50)
    assert f"**σ = {sigma:.3f}**" in text and f"{said} D ÷ (D + Z) = 10 ÷ 60 = 0.167" in text

