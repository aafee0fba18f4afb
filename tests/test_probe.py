"""Linear probes and their control task, on vectors whose answer is known."""

import pytest
import torch

from llmlab import probe


def _separable(n=400, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g) * 5 + 3
    return x, (x[:, 0] + 0.5 * x[:, 1] > 4.5).long()


def test_a_linearly_separable_property_is_read_and_the_map_is_plain():
    x, y = _separable()
    p = probe.fit(x[:300], y[:300])
    accuracy = probe.correct(p, x[300:], y[300:]).mean().item()
    assert accuracy > 0.95
    # the standardisation is folded in: the probe is one linear map of the raw vectors
    assert torch.equal(p(x).argmax(-1), (x @ p.weight.T + p.bias).argmax(-1))


def test_fit_matches_the_minimum_of_the_regularised_loss():
    x, y = _separable(n=120, dim=3)
    p = probe.fit(x, y, weight_decay=0.1, steps=200)
    # at the optimum the gradient (in standardised coordinates) vanishes
    mean, std = x.mean(0), x.std(0)
    w = (p.weight * std).detach().requires_grad_(True)
    b = (p.bias + p.weight @ mean).detach().requires_grad_(True)
    z = (x - mean) / std
    loss = torch.nn.functional.cross_entropy(z @ w.T + b, y) + 0.1 * w.pow(2).sum()
    loss.backward()
    assert w.grad.abs().max() < 1e-3 and b.grad.abs().max() < 1e-3


def test_control_labels_are_fixed_per_word_type():
    ids = torch.tensor([3, 1, 3, 2, 1, 3])
    labels = probe.control_labels(ids, 2, seed=1)
    assert labels[0] == labels[2] == labels[5] and labels[1] == labels[4]
    assert torch.equal(labels, probe.control_labels(ids, 2, seed=1))


def test_selectivity_is_high_for_a_real_property_and_near_zero_for_memorised_noise():
    g = torch.Generator().manual_seed(0)
    words = torch.randint(0, 200, (1200,), generator=g)
    table = torch.randn(200, 16, generator=g)  # one vector per word type, plus noise
    x = table[words] + 0.1 * torch.randn(1200, 16, generator=g)
    task = (table[words][:, 0] > 0).long()
    control = probe.control_labels(words, 2)
    result = probe.selectivity(
        (x[:900], task[:900], control[:900]), (x[900:], task[900:], control[900:])
    )
    assert result["task"].value > 0.95
    assert result["control"].value < 0.75  # a linear map cannot memorise 200 random labels well
    assert result["selectivity"].value > 5 * result["selectivity"].se


def test_selectivity_by_groups_counts_each_group_once():
    g = torch.Generator().manual_seed(0)
    words = torch.randint(0, 200, (1200,), generator=g)
    table = torch.randn(200, 16, generator=g)
    x = table[words] + 0.1 * torch.randn(1200, 16, generator=g)
    task, control = (table[words][:, 0] > 0).long(), probe.control_labels(words, 2)
    train = (x[:900], task[:900], control[:900])
    single = probe.selectivity(train, (x[900:], task[900:], control[900:]))
    # each test vector 10 times over, as 10 tokens of one window that all agree: one draw each
    copies = tuple(t[900:].repeat_interleave(10, 0) for t in (x, task, control))
    grouped = probe.selectivity(train, copies, groups=torch.arange(300).repeat_interleave(10))
    naive = probe.selectivity(train, copies)
    for key in ("task", "control", "selectivity"):
        assert grouped[key].value == pytest.approx(single[key].value)
        assert grouped[key].se == pytest.approx(single[key].se, rel=1e-4)
        assert naive[key].se < 0.35 * grouped[key].se  # counting tokens claims sqrt(10) too much
    with pytest.raises(ValueError, match="groups must have one label per test vector"):
        probe.selectivity(train, copies, groups=torch.zeros(5))


@pytest.mark.parametrize(
    "features, labels",
    [
        (torch.zeros(5), torch.zeros(5)),
        (torch.zeros(5, 2), torch.zeros(4)),
        (torch.zeros(5, 2), -torch.ones(5)),
    ],
)
def test_bad_shapes_and_labels_are_named(features, labels):
    with pytest.raises(ValueError, match="features|labels"):
        probe.fit(features, labels)


def test_control_labels_need_two_classes():
    with pytest.raises(ValueError, match="n_classes"):
        probe.control_labels([1, 2], 1)
