"""Lessons 04 and 05: llmlab.scaling (power laws, compression, arithmetic coding), the loss and
scaling figures of llmlab.viz, and the exercises' references checked against the library."""

import bz2
import gzip
import lzma
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab import exercises, scaling, viz
from llmlab.model import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------------------------
# Power laws and compute.


@settings(max_examples=50, deadline=None)
@given(
    scale=st.floats(0.1, 100.0),
    exponent=st.floats(-1.0, 2.0),
    xs=st.lists(st.floats(1.0, 1e12), min_size=2, max_size=8, unique=True),
)
def test_fit_power_law_recovers_an_exact_law(scale, exponent, xs):
    if max(xs) / min(xs) < 1.01:  # nearly equal x leave the slope ill-determined
        return
    law = scaling.fit_power_law(xs, [scale * x**-exponent for x in xs])
    assert law.exponent == pytest.approx(exponent, abs=1e-6)
    assert law.scale == pytest.approx(scale, rel=1e-5)
    assert law(xs[0]) == pytest.approx(scale * xs[0] ** -exponent, rel=1e-6)
    assert law.r_squared == pytest.approx(1.0, abs=1e-6) or exponent == pytest.approx(0, abs=1e-9)


def test_fit_power_law_matches_numpy_polyfit_on_noisy_points():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e7, 6)
    y = 5 * x**-0.2 * np.exp(rng.normal(0, 0.05, len(x)))
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    law = scaling.fit_power_law(list(x), list(y))
    assert law.exponent == pytest.approx(-slope, rel=1e-9)
    assert law.scale == pytest.approx(math.exp(intercept), rel=1e-9)
    residuals = np.log(y) - (intercept + slope * np.log(x))
    r2 = 1 - (residuals**2).sum() / ((np.log(y) - np.log(y).mean()) ** 2).sum()
    assert law.r_squared == pytest.approx(r2, rel=1e-9)
    assert 0.5 < law.r_squared < 1.0
    assert str(law) == f"{law.scale:.4g} * x^-{law.exponent:.3f}"


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([1.0, 2.0], [1.0], "same length"),
        ([1.0], [1.0], "at least 2 points"),
        ([1.0, 0.0], [1.0, 1.0], "finite positive"),
        ([1.0, 2.0], [1.0, -1.0], "finite positive"),
        ([1.0, math.inf], [1.0, 1.0], "finite positive"),
        ([3.0, 3.0], [1.0, 2.0], "two different values"),
    ],
)
def test_fit_power_law_rejects_bad_points(x, y, message):
    with pytest.raises(ValueError, match=message):
        scaling.fit_power_law(x, y)


def test_training_flops_is_six_n_d():
    assert scaling.training_flops(1_000_000, 2_000) == 1.2e10
    with pytest.raises(ValueError, match="n_params >= 1"):
        scaling.training_flops(0, 10)


def test_training_cost_turns_flops_into_gpu_hours_days_and_dollars():
    cost = scaling.training_cost(1e9, 1e12, 1e15, 0.5, n_gpus=10, dollars_per_gpu_hour=2.0)
    assert cost.flops == 6e21
    assert cost.gpu_hours == pytest.approx(6e21 / 5e14 / 3600)
    assert cost.days == pytest.approx(cost.gpu_hours / 10 / 24)
    assert cost.dollars == pytest.approx(2 * cost.gpu_hours)
    # The source material's figure: Llama 2 70B, about 12 days on 6,000 GPUs, about $2M.
    llama = scaling.training_cost(70e9, 2e12, 312e12, 0.4, 6000, 1.0)
    assert 12 < llama.days < 14 and 1.5e6 < llama.dollars < 2.5e6
    for bad in [0.0, 1.5]:
        with pytest.raises(ValueError, match=r"utilisation must be in \(0, 1\]"):
            scaling.training_cost(1e9, 1e12, 1e15, bad, 1, 1.0)
    with pytest.raises(ValueError, match="n_gpus >= 1"):
        scaling.training_cost(1e9, 1e12, 1e15, 0.5, 0, 1.0)


# ---------------------------------------------------------------------------------------------
# Compressors.


def test_a_context_is_not_charged_and_lets_a_compressor_find_repeats():
    text = "".join(random.Random(1).choice("abcdefgh") for _ in range(2000))
    context = text  # the very same text, read first: lzma only has to point back to it
    alone = scaling.compressor_bits_per_char(text)
    after = scaling.compressor_bits_per_char(text, context=context)
    data, both = context.encode(), (context + text).encode()
    for name, compress in [("gzip", lambda d: gzip.compress(d, 9, mtime=0)), ("bz2", bz2.compress)]:
        assert after[name] == 8 * (len(compress(both)) - len(compress(data))) / len(text)
    assert after["lzma"] < alone["lzma"] / 5
    with pytest.raises(ValueError, match="context must be a str"):
        scaling.compressor_bits_per_char("abc", context=None)


def test_compressor_bits_per_char_measures_each_compressor():
    text = "To be, or not to be, that is the question: " * 50 + "é"
    data = text.encode("utf-8")
    bits = scaling.compressor_bits_per_char(text)
    assert bits["gzip"] == 8 * len(gzip.compress(data, 9, mtime=0)) / len(text)
    assert bits["bz2"] == 8 * len(bz2.compress(data, 9)) / len(text)
    assert bits["lzma"] == 8 * len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)) / len(text)
    assert max(bits.values()) < 1.0  # a repeated line compresses to almost nothing


def test_random_letters_cost_about_their_entropy_and_no_less():
    """26 equally likely letters carry log2(26) = 4.7 bits each: no compressor can beat that."""
    rng = random.Random(0)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(20_000))
    for name, bits in scaling.compressor_bits_per_char(text).items():
        assert math.log2(26) < bits < 6.5, name


def test_compressor_bits_per_char_rejects_empty_text():
    with pytest.raises(ValueError, match="non-empty str"):
        scaling.compressor_bits_per_char("")


# ---------------------------------------------------------------------------------------------
# Arithmetic coding.


@settings(max_examples=60, deadline=None)
@given(
    probs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=300).filter(lambda p: sum(p) > 0),
    precision=st.integers(9, 20),
)
def test_quantize_sums_to_a_power_of_two_and_tracks_the_probabilities(probs, precision):
    freqs = scaling.quantize(probs, precision)
    total = 2**precision
    assert sum(freqs) == total and min(freqs) >= 1 and len(freqs) == len(probs)
    for f, p in zip(freqs, probs, strict=True):  # within the floor of 1 plus one rounding unit
        assert abs(f / total - p / sum(probs)) <= (len(probs) + 2) / total


@pytest.mark.parametrize(
    ("probs", "precision", "message"),
    [([], 16, "between 1 and"), ([1.0] * 5, 2, "between 1 and"), ([0.0, 0.0], 8, "positive"),
     ([0.5, -0.1], 8, "non-negative"), ([math.nan, 1.0], 8, "non-negative")],
)  # fmt: skip
def test_quantize_rejects_bad_probabilities(probs, precision, message):
    with pytest.raises(ValueError, match=message):
        scaling.quantize(probs, precision)


def _adaptive_predictor(alphabet: int):
    """Order-0 adaptive model: counts of the symbols so far, plus one (Laplace)."""

    def predict(prefix: list[int]) -> list[int]:
        counts = [1 + prefix.count(s) for s in range(alphabet)]
        return scaling.quantize(counts, 12)

    return predict


@settings(max_examples=60, deadline=None)
@given(data=st.data(), alphabet=st.integers(1, 12), adaptive=st.booleans())
def test_arithmetic_coding_round_trips_within_two_bits_of_the_ideal(data, alphabet, adaptive):
    symbols = data.draw(st.lists(st.integers(0, alphabet - 1), max_size=80))
    if adaptive:
        predict = _adaptive_predictor(alphabet)
    else:
        probs = data.draw(st.lists(st.floats(0.01, 1.0), min_size=alphabet, max_size=alphabet))
        fixed = scaling.quantize(probs, 16)

        def predict(prefix: list[int]) -> list[int]:
            return fixed

    bits = scaling.arithmetic_encode(symbols, predict)
    assert set(bits) <= {"0", "1"}
    assert scaling.arithmetic_decode(bits, len(symbols), predict) == symbols
    ideal = 0.0
    for i, s in enumerate(symbols):
        freqs = predict(symbols[:i])
        ideal -= math.log2(freqs[s] / sum(freqs))
    assert ideal <= len(bits) + 1e-9  # no code beats the ideal ...
    assert len(bits) <= ideal + 2  # ... and this one is at most two bits longer


def test_a_likely_message_takes_few_bits_an_unlikely_one_many():
    predict = lambda prefix: [15, 1]  # noqa: E731 - "0" has probability 15/16
    assert len(scaling.arithmetic_encode([0] * 32, predict)) <= 5  # 32 x 0.093 bits = 3 bits
    assert len(scaling.arithmetic_encode([1] * 8, predict)) >= 32  # 8 x 4 bits


def test_arithmetic_coder_rejects_bad_input():
    predict = lambda prefix: [1, 1, 2]  # noqa: E731
    with pytest.raises(ValueError, match="no frequency"):
        scaling.arithmetic_encode([3], predict)
    with pytest.raises(ValueError, match="power of two"):
        scaling.arithmetic_encode([0], lambda prefix: [1, 2])
    with pytest.raises(ValueError, match="'0' and '1'"):
        scaling.arithmetic_decode("0120", 2, predict)


# ---------------------------------------------------------------------------------------------
# The model as a coder.


def _tiny_gpt(seed: int = 0, block_size: int = 8) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=7, block_size=block_size, n_layer=1, n_head=2, n_embd=8))
    with torch.no_grad():  # sharpen the random model so predictions differ from uniform
        model.wte.weight.mul_(100)
    return model.eval()


def _bits_one_position_at_a_time(model: GPT, ids: list[int]) -> float:
    """Reference: -log2 p of every token, each window restarted every block_size predictions."""
    T = model.config.block_size
    bits = math.log2(model.config.vocab_size)
    for i in range(1, len(ids)):
        start = (i - 1) // T * T  # the window holding prediction i
        logits = model(torch.tensor([ids[start:i]]))[0][0, -1]
        bits -= F.log_softmax(logits.double(), dim=-1)[ids[i]].item() / math.log(2)
    return bits


@pytest.mark.parametrize("length", [1, 2, 8, 9, 17, 40])
def test_code_length_bits_adds_minus_log2_p_of_every_token(length):
    model = _tiny_gpt()
    ids = [random.Random(length).randrange(7) for _ in range(length)]
    expected = _bits_one_position_at_a_time(model, ids)
    assert scaling.code_length_bits(model, ids, batch_size=2) == pytest.approx(expected, rel=1e-5)
    assert not model.training


def test_a_model_that_knows_nothing_costs_log2_vocab_per_token():
    model = _tiny_gpt()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # every logit 0: a uniform guess
    assert scaling.code_length_bits(model, [1, 2, 3] * 10) == pytest.approx(30 * math.log2(7))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        scaling.code_length_bits(model, [])


def test_window_losses_average_to_evaluate_and_each_is_its_windows_own_loss():
    from llmlab.train import evaluate

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, block_size=6, n_layer=1, n_head=2, n_embd=8))
    rng = random.Random(2)
    data = torch.tensor([rng.randrange(7) for _ in range(200)])
    losses = scaling.window_losses(model, data, windows=10, batch_size=3)
    assert len(losses) == 10 and model.training  # the mode is restored
    assert sum(losses) / 10 == pytest.approx(evaluate(model, data, windows=10), rel=1e-5)
    last = data[-7:]  # the last window ends at the data's end
    with torch.no_grad():
        expected = model.eval()(last[None, :-1], last[None, 1:])[1].item()
    assert losses[-1] == pytest.approx(expected, rel=1e-5)
    assert len(set(losses)) > 1  # one number per window, not the mean repeated


def test_window_losses_rejects_too_few_windows_or_too_little_data():
    model = _tiny_gpt(block_size=6)
    with pytest.raises(ValueError, match="windows"):
        scaling.window_losses(model, list(range(7)) * 3, windows=1)
    with pytest.raises(ValueError, match="block_size"):
        scaling.window_losses(model, [1, 2, 3], windows=4)


def test_a_gpt_drives_the_coder_and_the_text_comes_back():
    model = _tiny_gpt(block_size=6)
    predict = scaling.model_predictor(model)
    message = [random.Random(1).randrange(7) for _ in range(30)]
    bits = scaling.arithmetic_encode(message, predict)
    assert scaling.arithmetic_decode(bits, len(message), predict) == message
    # The coder pays the model's -log2 p (contexts cropped to block_size, not restarted) plus
    # at most 2 bits, plus a little for rounding probabilities to 16-bit integers.
    ideal = math.log2(7)
    for i in range(1, len(message)):
        logits = model(torch.tensor([message[max(0, i - 6) : i]]))[0][0, -1]
        ideal -= F.log_softmax(logits.double(), dim=-1)[message[i]].item() / math.log(2)
    assert ideal - 0.01 * len(message) <= len(bits) <= ideal + 2 + 0.01 * len(message)


def test_the_coders_leave_the_model_in_the_mode_they_found_it():
    model = _tiny_gpt().train()
    scaling.code_length_bits(model, [1, 2, 3])
    assert model.training
    scaling.model_predictor(model)([1, 2])
    assert model.training
    with pytest.raises(ValueError, match="token ids"):  # even when the model refuses the input
        scaling.code_length_bits(model, [1, 2, 99])
    assert model.training


# ---------------------------------------------------------------------------------------------
# Figures.


def _history(steps: int, every_val: int) -> list[dict[str, float]]:
    records = []
    for step in range(10, steps + 1, 10):
        record = {"step": step, "tokens": 64 * step, "loss": 4.0 / math.sqrt(step)}
        if step % every_val == 0:
            record["val_loss"] = 4.2 / math.sqrt(step)
        records.append(record)
    return records


def test_loss_curve_draws_a_line_per_run_and_dots_for_held_out_loss():
    figure = viz.loss_curve({"a": _history(100, 50), "b": _history(50, 100)}, x="tokens")
    (axes,) = figure.axes
    lines = axes.get_lines()
    assert len(lines) == 3  # a: training + held-out; b: training only (no held-out records)
    assert list(lines[0].get_xdata()) == [64 * s for s in range(10, 101, 10)]
    assert list(lines[1].get_ydata()) == [4.2 / math.sqrt(50), 4.2 / math.sqrt(100)]
    assert axes.get_xlabel() == "tokens"
    assert viz.loss_curve({"a": _history(30, 10)}, log=True).axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="at least one run"):
        viz.loss_curve({})
    with pytest.raises(ValueError, match="without 'time'"):
        viz.loss_curve({"a": _history(30, 10)}, x="time")


def test_live_loss_curve_collects_every_record_and_draws_the_same_curve():
    live = viz.LiveLossCurve(every=3, title="live")
    for record in _history(100, 50):
        live(record)
    assert live.history == _history(100, 50)
    assert live.figure().axes[0].get_title() == "live"
    assert len(live.figure().axes[0].get_lines()) == 2
    with pytest.raises(ValueError, match="every"):
        viz.LiveLossCurve(every=0)


def test_live_loss_curve_draws_once_then_updates_in_place(monkeypatch):
    import IPython
    import IPython.display

    shown, updated = [], []

    class Handle:
        def update(self, figure):
            updated.append(figure)

    def display(figure, display_id=False):
        shown.append((figure, display_id))
        return Handle()

    monkeypatch.setattr(IPython, "get_ipython", lambda: object())  # as if in a notebook
    monkeypatch.setattr(IPython.display, "display", display)
    live = viz.LiveLossCurve(every=2)
    for record in _history(60, 30):  # 6 records; 2 of them with a held-out loss
        live(record)
    assert len(shown) == 1 and shown[0][1] is True
    assert len(updated) == 3  # drawn at steps 20, 30 (held-out), 40, 60: 1 show + 3 updates
    assert [line.get_ydata()[-1] for line in updated[-1].axes[0].get_lines()] == [
        4.0 / math.sqrt(60),
        4.2 / math.sqrt(60),
    ]


def test_scaling_plot_draws_points_fit_and_prediction_on_log_axes():
    points = {"small": (1e3, 3.0), "medium": (1e4, 2.5), "big": (1e5, 2.1)}
    law = scaling.fit_power_law([x for x, _ in points.values()], [y for _, y in points.values()])
    curves = {name: ([x / 10, x], [y * 1.5, y]) for name, (x, y) in points.items()}
    figure = viz.scaling_plot(points, law, predict_at=1e6, curves=curves, xlabel="parameters")
    (axes,) = figure.axes
    assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
    assert len(axes.get_lines()) == 3 + 3 + 1 + 1  # curves, points, fit, prediction
    fit_line = axes.get_lines()[-2]
    assert max(fit_line.get_xdata()) == pytest.approx(1e6)
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert f"prediction: {law(1e6):.3f}" in labels
    with pytest.raises(ValueError, match="positive"):
        viz.scaling_plot({"bad": (0.0, 1.0)})


def test_scaling_plot_labels_its_log_axes_in_plain_numbers():
    figure = viz.scaling_plot({"a": (1e4, 2.0), "b": (1e6, 3.0)})
    figure.canvas.draw()
    (axes,) = figure.axes
    x_labels = [t.get_text() for t in axes.get_xticklabels() if t.get_text()]
    y_labels = [t.get_text() for t in axes.get_yticklabels(minor=True) if t.get_text()]
    assert "100k" in x_labels and "$" not in "".join(x_labels)
    assert "2" in y_labels and "3" in y_labels


def test_bar_chart_formats_its_labels():
    figure = viz.bar_chart({"gzip": 2.8712, "model": 2.0123}, fmt="{:.2f}")
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert labels == ["2.87", "2.01"]


# ---------------------------------------------------------------------------------------------
# Exercises: worked numbers (each reference's agreement with the library: tests/test_package.py).


def test_greedy_until_exercise_rejects_a_loop_that_ignores_the_stop_or_the_context():
    def no_stop(model, prompt, max_new_tokens, stop_id):
        return exercises.greedy_until(model, prompt, max_new_tokens, stop_id=-1)

    def no_crop(model, prompt, max_new_tokens, stop_id):  # reads past the context: an error
        ids = prompt.clone()
        for _ in range(max_new_tokens):
            next_id = model(ids[None])[0][0, -1].argmax()
            ids = torch.cat([ids, next_id[None]])
        return ids[len(prompt) :].tolist()

    assert not exercises.check("greedy_until", no_stop)
    assert not exercises.check("greedy_until", no_crop)


def test_gpt_diagram_names_the_shape_it_draws():
    figure = viz.gpt_diagram(n_layer=6, n_embd=32, n_head=2)
    texts = [t.get_text() for axes in figure.axes for t in axes.texts]
    assert "block x 6" in texts and "attention, 2 heads" in texts and "MLP 32 -> 128 -> 32" in texts
    assert texts.count("skip") == 2
    with pytest.raises(ValueError, match="n_layer must be a positive int"):
        viz.gpt_diagram(n_layer=0, n_embd=32, n_head=2)
