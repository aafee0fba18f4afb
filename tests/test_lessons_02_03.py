"""Lessons 02 and 03: the widgets' pure functions and view-models, and the exercises."""

import html
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab import exercises, widgets

# ---------------------------------------------------------------------------------------------
# Lesson 03: the gradient-descent playground.


def _torch_sgd_path(surface: widgets.Surface, lr: float, steps: int, momentum: float):
    point = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
    sgd = torch.optim.SGD([point], lr=lr, momentum=momentum)
    points = [tuple(point.tolist())]
    for _ in range(steps):
        sgd.zero_grad()
        surface.loss(point[0], point[1]).backward()
        sgd.step()
        points.append(tuple(point.tolist()))
    return points


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(widgets.SURFACES)),
    lr=st.floats(1e-3, 0.01),
    momentum=st.floats(0.0, 0.9),
    steps=st.integers(0, 40),
)
def test_descent_path_matches_torch_sgd(name, lr, momentum, steps):
    surface = widgets.SURFACES[name]
    path = widgets.descent_path(surface, lr, steps, momentum)
    assert not path.diverged
    assert len(path.points) == len(path.losses) == steps + 1
    expected = torch.tensor(_torch_sgd_path(surface, lr, steps, momentum), dtype=torch.float64)
    assert torch.allclose(torch.tensor(path.points, dtype=torch.float64), expected, atol=1e-10)
    assert path.losses == pytest.approx([surface.loss(x, y) for x, y in path.points])


@pytest.mark.parametrize(
    ("lr", "verdict"),
    [(0.002, "crawls"), (0.05, "converges"), (0.09, "converges"),
     (0.11, "converges, zig-zagging"), (0.19, "converges, zig-zagging"), (0.199, "oscillates"),
     (0.21, "diverges"), (1.0, "diverges")],
)  # fmt: skip
def test_ravine_verdicts_follow_the_curvature(lr, verdict):
    """Curvature 10 along y: overshoot above lr = 1/10, divergence above 2/10."""
    path = widgets.descent_path(widgets.SURFACES["ravine"], lr, steps=50)
    assert widgets.descent_verdict(path) == verdict


def test_a_blown_up_run_stops_early_and_says_so():
    path = widgets.descent_path(widgets.SURFACES["ravine"], lr=1.0, steps=200)
    assert path.diverged and len(path.points) < 20
    assert path.losses[-1] > 1e6 * path.losses[0]
    assert all(math.isfinite(v) for v in path.losses)


def test_momentum_gets_through_the_banana_valley():
    banana = widgets.SURFACES["banana"]
    plain = widgets.descent_path(banana, lr=0.005, steps=200)
    heavy = widgets.descent_path(banana, lr=0.005, steps=200, momentum=0.9)
    assert widgets.descent_verdict(plain) == "crawls"
    assert widgets.descent_verdict(heavy) == "converges"
    assert heavy.points[-1] == pytest.approx(banana.minimum, abs=1e-2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "lr must be a positive number"),
        ({"lr": "fast"}, "lr must be a positive number"),
        ({"steps": -1}, "steps must be a non-negative int"),
        ({"steps": 2.5}, "steps must be a non-negative int"),
        ({"momentum": 1.0}, r"momentum must be in \[0, 1\)"),
    ],
)
def test_descent_path_rejects_bad_settings(kwargs, message):
    settings_ = {"lr": 0.1, "steps": 10, "momentum": 0.0} | kwargs
    with pytest.raises(ValueError, match=message):
        widgets.descent_path(widgets.SURFACES["ravine"], **settings_)


def test_playground_recomputes_on_settings_and_slices_on_steps():
    playground = widgets.DescentPlayground(lr=0.05, steps=50)
    assert playground.verdict() == "converges"
    assert bytes(playground.image.value).startswith(b"\x89PNG")
    run, picture, caption = playground.path, playground.image.value, playground.caption.value
    assert "converges" in caption and "50 steps" in caption

    playground.steps.value = 10  # slicing: the same run, a shorter prefix shown
    assert playground.path is run
    assert len(playground.shown().points) == 11
    assert playground.image.value != picture and "10 steps" in playground.caption.value

    playground.steps.value = 1  # one step, not "1 steps"
    assert "after 1 step (" in playground.caption.value
    playground.steps.value = 10

    playground.lr.value = 0.15  # a new setting: a new run
    assert playground.path is not run
    assert playground.verdict() == "oscillates"  # 10 steps: zig-zagging, the gap not yet closed
    assert "oscillates" in playground.caption.value
    playground.steps.value = 50
    assert playground.verdict() == "converges, zig-zagging"
    assert "converges, zig-zagging" in playground.caption.value

    playground.lr.value = 0.5
    assert playground.verdict() == "diverges"
    playground.momentum.value = 0.9
    assert "momentum 0.90" in playground.caption.value


def test_playground_redraws_the_surface_when_it_changes():
    playground = widgets.DescentPlayground(lr=0.005, steps=200)
    ravine_figure = playground.figure
    playground.surface.value = "banana"
    assert playground.figure is not ravine_figure
    assert "(1-x)²" in playground.ax_map.get_title()
    assert playground.verdict() == "crawls"
    playground.momentum.value = 0.9
    assert playground.verdict() == "converges"
    assert playground.path.points[0] == widgets.SURFACES["banana"].start


def test_playground_rejects_an_unknown_surface():
    with pytest.raises(ValueError, match="surface must be one of"):
        widgets.DescentPlayground(surface="volcano")


# ---------------------------------------------------------------------------------------------
# Lesson 03: the exercises reject wrong answers (right ones written differently, e.g. with torch,
# are accepted in tests/test_package.py).


def test_sigmoid_op_exercise_rejects_a_chain_of_engine_ops_and_a_forgotten_out_grad():
    def from_engine_ops(x):  # right numbers, but not one new operation with its own _backward
        return 1 / (1 + (-x).exp())

    def overwrites(x):  # the local slope alone: ignores the gradient arriving from above
        out = exercises.sigmoid_op(x)

        def _backward():
            x.grad = out.data * (1 - out.data)

        out._backward = _backward
        return out

    assert not exercises.check("sigmoid_op", from_engine_ops)
    assert not exercises.check("sigmoid_op", overwrites)


def test_topological_order_exercise_rejects_the_reversed_order_and_duplicates():
    assert not exercises.check(
        "topological_order", lambda root: exercises.topological_order(root)[::-1]
    )

    def tree_walk(root):  # no memory of visited nodes: a reused value is listed twice
        return [c for child in root._prev for c in tree_walk(child)] + [root]

    assert not exercises.check("topological_order", tree_walk)


# ---------------------------------------------------------------------------------------------
# Lesson 02: the attention explorer, on a small untrained GPT (the trained one is the lesson's).


@pytest.fixture(scope="module")
def small_gpt():
    from llmlab.model import GPT, GPTConfig
    from llmlab.tokenization import CharTokenizer

    tokenizer = CharTokenizer("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz :\n,.!?'")
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=2, n_head=3,
                       n_embd=24)  # fmt: skip
    return GPT(config), tokenizer


def test_attention_maps_are_the_models_weights(small_gpt):
    model, tokenizer = small_gpt
    maps = widgets.attention_maps(model, tokenizer, "JULIET:\nO Romeo!")
    assert maps.tokens == list("JULIET:\nO Romeo!")
    assert maps.weights.shape == (2, 3, 16, 16)
    ids = torch.tensor([tokenizer.encode("JULIET:\nO Romeo!")])
    with torch.no_grad():
        _, _, expected = model(ids, return_attention=True)
    assert torch.equal(maps.weights, expected[0])
    assert torch.allclose(maps.weights.sum(-1), torch.ones(2, 3, 16))
    assert (maps.weights.triu(diagonal=1) == 0).all()  # causal: nothing from the future


def test_attention_maps_restores_training_mode(small_gpt):
    model, tokenizer = small_gpt
    model.train()
    widgets.attention_maps(model, tokenizer, "abc")
    assert model.training
    model.eval()


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", ValueError, "non-empty string"),
        (42, ValueError, "non-empty string"),
        ("a" * 33, ValueError, "at most 32"),
        ("café", ValueError, "never seen"),
    ],
)
def test_attention_maps_rejects_bad_text(small_gpt, text, error, message):
    with pytest.raises(error, match=message):
        widgets.attention_maps(*small_gpt, text)


def test_head_summary_reports_measured_shares():
    weights = torch.tensor([[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.5, 0.5, 0.0]])
    line = widgets.head_summary(weights, ["a", " ", "\n"], row=1)
    assert "token 1 '·' looks most at token 1 '·' (75%)" in line
    # previous token: w[1,0] = 0.25, w[2,1] = 0.5 -> 38%; first token: w[1,0], w[2,0] -> 38%
    assert "38% to the previous token and 38% to the first" in line
    assert widgets.show_token("\n") == "↵"


def test_explorer_slices_on_controls_and_recomputes_on_text(small_gpt):
    model, tokenizer = small_gpt
    explorer = widgets.AttentionExplorer(model, tokenizer, "ROMEO:\nAy me!", pause=0)
    maps, picture, grid = explorer.maps, explorer.image.value, explorer.grid.value
    assert explorer.token.value == explorer.token.max == 12  # the last token, which sees all
    assert "layer 0, head 0" in explorer.caption.value

    explorer.head.value = 2  # a slice of the same computation: no new model run
    assert explorer.maps is maps
    assert torch.equal(explorer.pattern, maps.weights[0, 2])
    assert "layer 0, head 2" in explorer.caption.value
    assert explorer.image.value != picture and explorer.grid.value != grid

    grid = explorer.grid.value
    explorer.token.value = 3  # only the highlighted row changes, the overview stays
    assert "token 3 'E'" in html.unescape(explorer.caption.value)
    assert explorer.grid.value == grid

    explorer.text.value = "JULIET:\nRomeo, Romeo!"
    assert explorer.maps is not maps and explorer.token.max == len("JULIET:\nRomeo, Romeo!") - 1
    assert explorer.token.value == explorer.token.max


def test_explorer_explains_bad_text_and_clears_the_picture(small_gpt):
    explorer = widgets.AttentionExplorer(*small_gpt, "ROMEO:\nAy me!")
    maps = explorer.maps
    explorer.text.value = "Ærø"
    assert "never seen" in explorer.note.value and "color:#b00" in explorer.note.value
    assert explorer.caption.value == ""  # no caption of the last text's pictures
    assert explorer.image.layout.display == explorer.grid_box.layout.display == "none"
    assert explorer.maps is maps
    assert explorer.layer.disabled and explorer.token.disabled  # nothing to slice until it is fixed
    explorer.text.value = "ROMEO:\nAy!"
    explorer.flush()
    assert not explorer.layer.disabled and bytes(explorer.image.value).startswith(b"\x89PNG")
    assert explorer.image.layout.display is None and explorer.note.value == ""


def test_explorer_computes_as_you_type_and_draws_after_a_pause(small_gpt):
    import time

    explorer = widgets.AttentionExplorer(*small_gpt, "ROMEO:\nAy me!", pause=0.2)
    picture = explorer.image.value
    assert bytes(picture).startswith(b"\x89PNG")  # built at once, never blank
    explorer.text.value = "JULIET:\nO Romeo"
    assert explorer.token.max == len("JULIET:\nO Romeo") - 1  # the weights: at once
    assert "looks most at" in explorer.caption.value
    assert explorer.image.value == picture  # the picture: after the pause
    for _ in range(50):
        if explorer.image.value != picture:
            break
        time.sleep(0.1)
    assert explorer.image.value != picture
    assert (
        "text/html" in explorer.still()
        and "data:image/png;base64," in explorer.still()["text/html"]
    )
    with pytest.raises(ValueError, match=r"pause must be .* \[0, 5\]"):
        widgets.AttentionExplorer(*small_gpt, "ROMEO:", pause=-1)


# ---------------------------------------------------------------------------------------------
# The figures the two lessons draw with llmlab.viz.


def test_heatmap_labels_and_annotates_small_matrices():
    from llmlab import viz

    weights = torch.tensor([[1.0, 0.0], [0.25, 0.75]])
    figure = viz.heatmap(weights, ["a", "b"], ["a", "b"], title="w")
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["a", "b"]
    assert sorted(t.get_text() for t in axes.texts) == ["0.00", "0.25", "0.75", "1.00"]
    assert not viz.heatmap(torch.rand(20, 20)).axes[0].texts  # too big to annotate
    assert viz.png_bytes(figure).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((torch.rand(3),), "must be 2-D"),
        ((torch.rand(2, 3), ["a"]), "rows must have 2 labels"),
        ((torch.rand(2, 3), None, ["a", "b"]), "columns must have 3 labels"),
    ],
)
def test_heatmap_rejects_mismatched_input(args, message):
    from llmlab import viz

    with pytest.raises(ValueError, match=message):
        viz.heatmap(*args)


# ---------------------------------------------------------------------------------------------
# Lesson 03: the backward exercise.


def test_backward_exercise_accepts_a_different_right_answer_on_a_fresh_graph(capsys):
    """An explicit stack, the seed added with +=: right. The checker hands the learner a graph
    no reference has touched (every grad 0), or a correct += would count twice."""
    seen_grads = []

    def with_a_stack(root):
        order, done, stack = [], set(), [(root, False)]
        while stack:
            node, inputs_listed = stack.pop()
            if inputs_listed:
                order.append(node)
            elif id(node) not in done:
                done.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        seen_grads.extend(node.grad for node in order)
        root.grad += 1.0
        for node in reversed(order):
            node._backward()

    assert exercises.check("backward", with_a_stack), capsys.readouterr().out
    assert seen_grads and set(seen_grads) == {0.0}


def test_backward_exercise_refuses_the_library_backward(capsys):
    assert not exercises.check("backward", lambda root: root.backward())
    assert "called llmlab's own `autograd.Value.backward`" in capsys.readouterr().out
