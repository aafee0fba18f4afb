"""Lesson 05's scaling ladder, driven by setting its controls' values as a drag or typing does,
on a made-up ladder whose points lie exactly on a known law (so every prediction is known);
and the cache (``scaling.cached_run``) that lets the widget's browser test skip the training."""

import math

import pytest

from llmlab import scaling, stats

# Five rungs on loss = 12 * C^-0.05, with data growing as N^0.2 (as the lesson's ladder does).
PARAMS = [1_000, 2_000, 4_000, 8_000, 16_000]
TOKENS = [round(100_000 * n**0.2) for n in PARAMS]
WIDTHS = {4: 800, 8: 2_000, 16: 8_000, 32: 28_000}


def _loss(flops: float) -> float:
    return 12 * flops**-0.05


def _runs(speed=lambda n: 1e9) -> dict:
    """The rungs, each trained at ``speed(params)`` FLOP/s (by default 1e9 at every size)."""
    runs = {}
    for i, (n, d) in enumerate(zip(PARAMS, TOKENS, strict=True)):
        mean = _loss(6 * n * d)
        loss = stats.mean([mean - 0.01, mean + 0.01])
        runs[f"R{i}"] = {"params": n, "tokens": d, "loss": loss, "seconds": 6 * n * d / speed(n)}
    return runs


def _ladder(runs=None, **kwargs):
    from llmlab.widgets import ScalingLadder

    runs = runs or _runs()
    law = scaling.fit_power_law(
        [6 * r["params"] * r["tokens"] for r in runs.values()],
        [r["loss"].value for r in runs.values()],
    )
    return ScalingLadder(runs, law, WIDTHS, **kwargs)


def test_the_choice_follows_the_controls():
    ladder = _ladder()
    for width, budget in ((8, 5.0), (16, 40.0), (32, 12.0)):
        ladder.width.value, ladder.budget.value = width, budget
        choice = ladder.choice()
        assert choice.params == WIDTHS[width] and choice.flops == budget * 1e9
        assert choice.tokens == round(budget * 1e9 / (6 * WIDTHS[width]))
        assert choice.predicted == pytest.approx(_loss(budget * 1e9), rel=1e-9)  # on the law
        assert choice.seconds == pytest.approx(budget)  # at 1e9 FLOP/s
        text = ladder.caption.value
        assert f"{WIDTHS[width]:,} parameters (width {width})" in text
        assert f"{choice.tokens:,} tokens" in text and f"{choice.predicted:.3f} nats" in text
        star = ladder.star.get_data()
        assert star[0][0] == budget * 1e9 and star[1][0] == pytest.approx(choice.predicted)


def test_the_ladders_path_and_the_extrapolation_are_said():
    ladder = _ladder()
    ladder.width.value = 16
    n, low, high = WIDTHS[16], ladder.budget.min, ladder.budget.max
    on_path = 6 * n * 100_000 * n**0.2 / 1e9  # the budget the ladder's path gives width 16
    ladder.budget.value = round(on_path)
    choice = ladder.choice()
    assert choice.ladder_tokens == pytest.approx(100_000 * n**0.2, rel=1e-3)
    assert "inside the compute the ladder spanned" in ladder.caption.value
    assert f"gives it {choice.tokens / choice.ladder_tokens:.2g} times that" in ladder.caption.value
    largest = max(6 * n * d for n, d in zip(PARAMS, TOKENS, strict=True)) / 1e9
    ladder.budget.value = high
    assert f"{high / largest:.1f} times the ladder's largest compute" in ladder.caption.value
    ladder.budget.value = low
    assert "below the ladder's least compute: an extrapolation" in ladder.caption.value


def test_out_of_range_settings_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match="width must be one of"):
        _ladder(width=12)
    with pytest.raises(ValueError, match=r"budget must be in \[1, "):
        _ladder(budget=1e6)
    from llmlab.widgets import ladder_choice, ladder_points

    points = ladder_points(_runs())
    with pytest.raises(ValueError, match="flops must be a positive"):
        ladder_choice(points, scaling.PowerLaw(1, 0.1, 1), 4, 800, -1.0)
    with pytest.raises(ValueError, match=r"runs\['R0'\]\['seconds'\] must be a positive"):
        ladder_points({**_runs(), "R0": {**_runs()["R0"], "seconds": 0.0}})
    with pytest.raises(ValueError, match="runs must hold at least 2"):
        ladder_points({"R0": _runs()["R0"]})
    # A value typed into the budget's box outside its range is refused beside the box.
    ladder = _ladder()
    box = ladder.widget.children[1].children[1]
    before = ladder.budget.value
    box.value = ladder.budget.max + 50
    assert ladder.budget.value == before and "is outside" in ladder.note.value
    box.value = 7.0
    assert ladder.budget.value == 7.0 and ladder.note.value == ""


def test_the_time_comes_from_the_speed_measured_at_each_size():
    # Small models do fewer FLOP/s on a CPU: here the smallest rung ran 10 times slower per FLOP
    # than the largest, as speed = 1e9 * (N / 16,000)^k.
    k = math.log(10) / math.log(16)
    ladder = _ladder(
        _runs(lambda n: 1e9 * (n / 16_000) ** k), train=lambda w, s: {}, max_seconds=10
    )
    ladder.width.value, ladder.budget.value = 4, 2.0
    choice = ladder.choice()
    expected = 1e9 * (WIDTHS[4] / 16_000) ** k
    assert choice.speed == pytest.approx(expected, rel=1e-9)
    assert choice.seconds == pytest.approx(2e9 / expected, rel=1e-9)
    assert choice.seconds > 10 * 2.0  # the largest rung's speed alone would promise 2 s
    assert f"at {expected / 1e9:.2g} GFLOP/s" in ladder.caption.value
    assert "more than the 10 s" in ladder.train()  # so the cap refuses what it would have let by
    ladder.width.value = 32  # beyond the ladder's largest size, the fitted law extrapolates
    assert ladder.choice().speed == pytest.approx(1e9 * (WIDTHS[32] / 16_000) ** k, rel=1e-9)


def test_train_it_runs_the_lessons_function_or_refuses_a_long_budget():
    calls = []

    def train(width, steps):
        calls.append((width, steps))
        return {"params": WIDTHS[width], "tokens": steps * 100, "loss": stats.mean([2.0, 2.02])}

    ladder = _ladder(train=train, tokens_per_step=100, max_seconds=10)
    ladder.width.value, ladder.budget.value = 8, 30.0  # 30 s at 1e9 FLOP/s: too long
    message = ladder.train()
    assert calls == [] and "about 30 s" in message and "more than the 10 s" in message
    assert "role='alert'" in ladder.status.value
    before = bytes(ladder.image.value)
    ladder.budget.value = 6.0
    choice = ladder.choice()
    text = ladder.train()
    assert calls == [(8, round(choice.tokens / 100))]
    miss = choice.predicted - 2.01
    assert "held-out loss 2.010 ± 0.010" in text and f"a miss of {miss:+.3f}" in text
    assert miss > 0 and f"({miss / 0.01:+.1f} SE): too pessimistic by more than 2 SE" in text
    assert "not the training seed's luck" in text
    assert len(ladder.axes.containers) == 2
    assert bytes(ladder.image.value) != before  # the measured point is drawn


def test_a_widget_without_training_says_so():
    ladder = _ladder()
    assert ladder.button.disabled and "No training function" in ladder.train()
    still = ladder.still()["text/html"]
    assert ladder.caption.value in still and "data:image/png;base64," in still


def test_cached_run_measures_once_per_settings(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("LLMLAB_HOME", str(tmp_path))
    calls = []

    def measure():
        calls.append(1)
        return {"loss": math.pi / 7, "curve": [(1, 0.1 + 0.2)]}

    data = torch.arange(10)
    settings = {"width": 8, "data": [data], "config": scaling.PowerLaw(1.0, 0.5, 1.0)}
    first = scaling.cached_run("probe", settings, measure)
    again = scaling.cached_run("probe", {**settings}, measure)
    assert calls == [1] and first == again == {"loss": math.pi / 7, "curve": [[1, 0.1 + 0.2]]}
    scaling.cached_run("probe", {**settings, "data": [data + 1]}, measure)  # other data
    scaling.cached_run("probe", {**settings, "width": 16}, measure)  # another setting
    assert calls == [1, 1, 1] and len(list(tmp_path.glob("probe-*.json"))) == 3
    with pytest.raises(ValueError, match="name must be"):
        scaling.cached_run("../x", settings, measure)
    with pytest.raises(ValueError, match="no stable key"):
        scaling.cached_run("probe", {"thing": object()}, measure)
