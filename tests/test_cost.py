"""FLOPs, energy and published runs on one scale."""

import os

import pytest

from llmlab import cost
from llmlab.scaling import training_flops


def test_serving_three_times_the_training_tokens_costs_what_training_did():
    n, d = 1e6, 2e7
    assert cost.inference_flops(n, 3 * d) == training_flops(int(n), int(d))


def test_the_fallback_meter_charges_cpu_time_at_the_stated_power(tmp_path):
    meter = cost.EnergyMeter(watts_per_core=10.0, root=tmp_path)  # no counters there
    with meter:
        sum(i * i for i in range(300_000))
    assert meter.energy.joules > 0
    assert "assumed" in meter.energy.source and "10 W" in meter.energy.source
    assert meter.energy.kwh == pytest.approx(meter.energy.joules / 3.6e6)


def test_rapl_counters_are_read_with_wrap_around(tmp_path):
    zone = tmp_path / "intel-rapl:0"
    (zone / "intel-rapl:0:0").mkdir(parents=True)  # a sub-zone: not counted twice
    (zone / "intel-rapl:0:0" / "energy_uj").write_text("5\n")
    (zone / "energy_uj").write_text("999000000\n")
    (zone / "max_energy_range_uj").write_text("1000000000\n")
    meter = cost.EnergyMeter(root=tmp_path)
    with meter:
        (zone / "energy_uj").write_text("1000000\n")  # wrapped: 1e6 + 1e9 - 999e6 uJ = 2 J
    assert meter.energy.joules == pytest.approx(2.0)
    assert "RAPL" in meter.energy.source


def test_published_runs_carry_their_sources_and_6nd():
    llama = next(r for r in cost.PUBLISHED if r.name.startswith("Llama"))
    assert llama.flops == pytest.approx(8.4e23)
    assert all(r.source and r.energy_kwh > 0 and r.co2_tonnes > 0 for r in cost.PUBLISHED)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_bad_numbers_are_named(bad):
    with pytest.raises(ValueError, match="watts_per_core"):
        cost.EnergyMeter(watts_per_core=bad)
    with pytest.raises(ValueError, match="kwh|grams"):
        cost.grams_co2(bad if bad != 0 else -1, 400)


def test_this_machine_reports_a_source():
    meter = cost.EnergyMeter()
    with meter:
        os.getpid()
    assert meter.energy.source
