"""Fixtures of the server-free unit tests."""

import pytest


@pytest.fixture
def assumed_band(monkeypatch):
    """Rules decided with the fixed ±20% band a one-repeat figure had before the lab measured
    its own (``verdicts.band``): hand-made rows near a threshold stay where their comments say,
    whatever the reference runs last recorded."""
    from scalelab.verdicts import band

    monkeypatch.setattr("scalelab.verdicts.rule.one_run_band",
                        lambda reference=None: band.ASSUMED)
    return band.ASSUMED
