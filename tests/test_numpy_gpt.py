"""The NumPy-only runner against the torch GPT: logits, cache, generation, tokenizers, files."""

import functools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_gpt import TINY, tiny

from llmlab import numpy_gpt, pretrained
from llmlab.checkpoint import save_checkpoint
from llmlab.tokenization import BPETokenizer, CharTokenizer

ENCODINGS = ["learned", "sinusoidal", "rope"]
TEXT = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet "
    "is the sun.\n\nJULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and "
    "refuse thy name;\nOr, if thou wilt not, be but sworn my love,\nAnd I'll no longer be a "
    "Capulet.\n\nROMEO:\nShall I hear more, or shall I speak at this?\n"
)


def torch_logits(model, ids) -> np.ndarray:
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(ids))[None])[0][0].numpy()


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    """``{(encoding, bias): (torch model, checkpoint path)}`` for tiny GPTs of every kind."""
    folder = tmp_path_factory.mktemp("tiny")
    made = {}
    for k, encoding in enumerate(ENCODINGS):
        for bias in (True, False):
            model = tiny(k, pos_encoding=encoding, bias=bias).eval()
            path = save_checkpoint(folder / f"{encoding}-{bias}.safetensors", model)
            made[encoding, bias] = model, path
    return made


@functools.cache
def standard(name: str):
    """``(name, torch model, tokenizer, NumpyGPT)`` of a standard model shipped with the course."""
    model, tokenizer = pretrained.load(name, train=False, progress=False)
    path = pretrained.checkpoint(name, train=False, progress=False).path
    return name, model, tokenizer, numpy_gpt.load(path)


@pytest.fixture(params=["char", "bpe"])
def shipped(request):
    return standard(request.param)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_logits_match_torch_for_every_positional_encoding(tiny_files, encoding, bias, one_thread):
    model, path = tiny_files[encoding, bias]
    runner = numpy_gpt.load(path)
    rng = np.random.default_rng(0)
    for length in (1, 5, TINY["block_size"]):
        ids = rng.integers(0, TINY["vocab_size"], length)
        got = runner.logits(ids)
        assert got.dtype == np.float32 and got.shape == (length, TINY["vocab_size"])
        # (1e-4 is the contract; random tiny models have small logits, so hold them to 1e-5)
        np.testing.assert_allclose(got, torch_logits(model, ids), atol=1e-5, rtol=0)


def test_tables_and_gelu_match_torch():
    from llmlab.attention import rope_frequencies, sinusoidal_encoding

    for d in (8, 32, 64):
        table = sinusoidal_encoding(128, d).numpy()
        np.testing.assert_allclose(numpy_gpt.sinusoidal_encoding(128, d), table, atol=1e-6)
        for got, want in zip(
            numpy_gpt.rope_frequencies(d, 128, 500.0), rope_frequencies(d, 128, 500.0), strict=True
        ):
            np.testing.assert_allclose(got, want.numpy(), atol=1e-6)
    x = np.linspace(-10, 10, 20001, dtype=np.float32)
    want = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    got = numpy_gpt.gelu(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=2e-7)
    exact = np.array([math.erfc(v) for v in x.astype(np.float64)])
    assert np.max(np.abs(numpy_gpt.erfc(x) - exact) / exact) < 1.2e-7


def test_shipped_models_logits_match_torch(shipped, one_thread):
    name, model, tokenizer, runner = shipped
    ids = tokenizer.encode(TEXT * 3)
    block = model.config.block_size
    for start in (0, 17, len(ids) - block):  # a few windows of the context's full length
        window = ids[start : start + block]
        np.testing.assert_allclose(
            runner.logits(window), torch_logits(model, window), atol=1e-4, rtol=0
        )


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_cached_logits_equal_uncached(tiny_files, encoding):
    runner = numpy_gpt.load(tiny_files[encoding, True][1])
    ids = np.random.default_rng(1).integers(0, TINY["vocab_size"], TINY["block_size"])
    full = runner.logits(ids)
    cache = runner.new_cache()
    pieces = [runner.logits(ids[:5], cache)]  # a prompt, then one token at a time
    pieces += [runner.logits(ids[t : t + 1], cache) for t in range(5, len(ids))]
    assert cache.length == len(ids)
    np.testing.assert_allclose(np.concatenate(pieces), full, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="free"):
        runner.logits(ids[:1], cache)  # the cache is full
    cache.reset()
    np.testing.assert_allclose(runner.logits(ids[:3], cache), full[:3], atol=1e-5, rtol=0)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_greedy_generation_equals_torch(tiny_files, encoding, one_thread):
    model, path = tiny_files[encoding, False]
    runner = numpy_gpt.load(path)
    prompt = [3, 1, 4, 1, 5]
    n = 2 * TINY["block_size"]  # runs past the full window: the cache is re-filled
    want = model.generate(torch.tensor(prompt), n, temperature=0).numpy()
    for use_cache in (True, False):
        got = runner.generate(prompt, n, temperature=0, use_cache=use_cache)
        np.testing.assert_array_equal(got, want)


def test_shipped_greedy_generation_equals_torch(shipped, one_thread):
    name, model, tokenizer, runner = shipped
    prompt = tokenizer.encode("ROMEO:\n")
    want = model.generate(torch.tensor(prompt), 60, temperature=0).numpy()
    np.testing.assert_array_equal(runner.generate(prompt, 60, temperature=0), want)
    assert runner.complete("ROMEO:\n", 60, temperature=0) == tokenizer.decode(want[len(prompt) :])


def test_a_prompt_longer_than_the_context_is_cropped_from_the_left(tiny_files):
    model, path = tiny_files["rope", True]
    runner = numpy_gpt.load(path)
    prompt = np.random.default_rng(2).integers(0, TINY["vocab_size"], 40)
    got = runner.generate(prompt, 6, temperature=0)
    np.testing.assert_array_equal(got[:40], prompt)  # the whole prompt comes back
    cropped = runner.generate(prompt[-TINY["block_size"] :], 6, temperature=0)
    np.testing.assert_array_equal(got[40:], cropped[TINY["block_size"] :])
    want = model.generate(torch.from_numpy(prompt), 6, temperature=0).numpy()
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="at most the last 16"):
        runner.logits(prompt)  # logits does not crop: it says how much fits


def test_sampling():
    logits = np.array([2.0, 1.0, 0.5, -1.0, 3.0], dtype=np.float32)
    rng = np.random.default_rng(0)
    draws = np.array([numpy_gpt.sample(logits, rng=rng) for _ in range(20000)])
    frequencies = np.bincount(draws, minlength=5) / len(draws)
    np.testing.assert_allclose(frequencies, numpy_gpt.softmax(logits.astype(float)), atol=0.01)
    assert numpy_gpt.sample(logits, temperature=0) == 4
    assert {numpy_gpt.sample(logits, top_k=2, rng=rng) for _ in range(300)} == {0, 4}
    probs = numpy_gpt.softmax(logits.astype(float))  # ~ .24 .09 .05 .01 .64 (sorted: 4, 0, 1)
    nucleus = {numpy_gpt.sample(logits, top_p=0.8, rng=rng) for _ in range(300)}
    assert probs[4] < 0.8 < probs[4] + probs[0] and nucleus == {0, 4}
    assert {numpy_gpt.sample(logits, top_p=0.1, rng=rng) for _ in range(50)} == {4}
    cold = [numpy_gpt.sample(logits, temperature=0.05, rng=rng) for _ in range(50)]
    assert set(cold) == {4}


def test_generation_is_seeded_and_stops():
    name, model, tokenizer, runner = standard("char")
    prompt = tokenizer.encode("JULIET:\n")
    a = runner.generate(prompt, 30, temperature=1.0, top_k=20, top_p=0.9, seed=7)
    b = runner.generate(prompt, 30, temperature=1.0, top_k=20, top_p=0.9, seed=7)
    c = runner.generate(prompt, 30, temperature=1.0, top_k=20, top_p=0.9, seed=8)
    np.testing.assert_array_equal(a, b)
    assert len(a) == len(prompt) + 30 and not np.array_equal(a, c)
    uncached = runner.generate(prompt, 12, top_k=20, top_p=0.9, seed=7, use_cache=False)
    np.testing.assert_array_equal(uncached, a[: len(prompt) + 12])
    newline = tokenizer.encode("\n")[0]
    stopped = runner.generate(prompt, 200, temperature=0, stop=np.int64(newline))
    assert stopped[-1] == newline and newline not in stopped[len(prompt) : -1]
    space = tokenizer.encode(" ")[0]
    either = runner.generate(prompt, 200, temperature=0, stop=[newline, space])
    assert either[-1] in (newline, space) and len(either) <= len(stopped)
    assert len(runner.generate(prompt, 0)) == len(prompt)


def test_tokenizers_equal_llmlabs(shipped):
    name, model, tokenizer, runner = shipped
    texts = [TEXT, "", "  spaces   and\ttabs\n\n", "1000 ducats! l'été, naïve café — 東京 🙂"]
    for text in texts:
        if isinstance(tokenizer, CharTokenizer) and set(text) - set(tokenizer.chars):
            with pytest.raises(ValueError, match="never seen"):  # llmlab's own message
                runner.encode(text)
            continue
        ids = tokenizer.encode(text)
        assert runner.encode(text) == ids
        assert runner.decode(ids) == tokenizer.decode(ids) == text
    ids = list(range(model.config.vocab_size))
    assert runner.decode(ids) == tokenizer.decode(ids)


def test_bpe_special_tokens_and_broken_characters():
    tokenizer = BPETokenizer.train(TEXT * 5, 300, special_tokens=["<|endoftext|>", "<|a|><|b|>"])
    runner = numpy_gpt.NumpyGPT(
        numpy_gpt.Config(**{**TINY, "vocab_size": 300, "bias": False, "pos_encoding": "rope"}),
        {
            n: p.detach().numpy()
            for n, p in tiny(0, vocab_size=300, bias=False, pos_encoding="rope").named_parameters()
        },
        tokenizer.to_dict(),
    )
    text = "ROMEO:<|endoftext|>Juliet<|a|><|b|> <|a|>é"
    assert runner.encode(text) == tokenizer.encode(text)
    half = tokenizer.encode("é")[:1]  # one byte of a two-byte character: U+FFFD, as llmlab
    assert runner.decode(half) == tokenizer.decode(half)


def test_torch_is_never_imported(shipped, tmp_path):
    name, model, tokenizer, runner = shipped
    path = pretrained.checkpoint(name, train=False, progress=False).path
    npz = tmp_path / "model.npz"
    script = f"""
import sys
from llmlab import numpy_gpt
for path in ({str(path)!r}, {str(npz)!r}):
    if path.endswith(".npz"):
        numpy_gpt.export_npz({str(path)!r}, path)
    model = numpy_gpt.load(path)
    ids = model.encode("ROMEO:\\n")
    print(model.decode(model.generate(ids, 20, top_k=10, top_p=0.9, seed=1)))
    model.logits(ids, model.new_cache())
assert "torch" not in sys.modules, "torch was imported"
print("no torch")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("no torch\n")


def test_npz_round_trip(shipped, tmp_path):
    name, model, tokenizer, runner = shipped
    path = pretrained.checkpoint(name, train=False, progress=False).path
    npz = numpy_gpt.export_npz(path, tmp_path / f"{name}.npz")
    with np.load(npz, allow_pickle=False) as saved:  # no pickle anywhere in the file
        header = json.loads(str(saved["__header__"]))
        assert header["model_config"] == model.config.to_dict()
        assert len(saved.files) == 1 + len(dict(model.named_parameters()))
    again = numpy_gpt.load(npz)
    assert again.config == runner.config
    ids = tokenizer.encode(TEXT)[:50]
    np.testing.assert_array_equal(again.logits(ids), runner.logits(ids))
    assert again.encode(TEXT) == runner.encode(TEXT)


def test_bad_inputs(tiny_files, tmp_path):
    model, path = tiny_files["learned", True]
    runner = numpy_gpt.load(path)
    for ids, error, match in [
        ([], ValueError, "empty prompt"),
        ([1, 37], ValueError, r"in \[1, 37\].*0\.\.36"),
        ([-1, 2], ValueError, "vocabulary"),
        ([[1, 2]], ValueError, "one sequence"),
        ([1.0, 2.0], TypeError, "integer"),
        ([True], TypeError, "integer"),
    ]:
        with pytest.raises(error, match=match):
            runner.logits(ids)
        with pytest.raises(error, match=match):
            runner.generate(ids, 3)
    for kwargs, match in [
        (dict(max_new_tokens=-1), "max_new_tokens"),
        (dict(max_new_tokens=2.5), "max_new_tokens"),
        (dict(temperature=-1), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(top_k=0), "top_k"),
        (dict(top_p=0), "top_p"),
        (dict(top_p=1.5), "top_p"),
    ]:
        with pytest.raises(ValueError, match=match):
            runner.generate([1, 2], **{"max_new_tokens": 3, **kwargs})
    with pytest.raises(ValueError, match="holds no tokenizer"):
        runner.encode("hello")

    weights = {n: p.detach().numpy() for n, p in model.named_parameters()}
    config = numpy_gpt.Config(**model.config.to_dict())
    del weights["blocks.1.mlp.fc.bias"]
    with pytest.raises(ValueError, match=r"lack.*'blocks\.1\.mlp\.fc\.bias'"):
        numpy_gpt.NumpyGPT(config, weights)
    weights = {n: p.detach().numpy() for n, p in model.named_parameters()}
    small = numpy_gpt.NumpyGPT(config, weights, CharTokenizer("abc").to_dict())
    with pytest.raises(ValueError, match="tokenizer does not have: 5"):
        small.decode([0, 5])
    npz = numpy_gpt.export_npz(path, tmp_path / "tiny.npz")
    with np.load(npz) as saved:
        arrays = {n: saved[n] for n in saved.files if n != "model.ln_f.weight"}
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(ValueError, match=r"broken\.npz.*lack.*'ln_f\.weight'"):
        numpy_gpt.load(tmp_path / "broken.npz")
    with pytest.raises(FileNotFoundError):
        numpy_gpt.load(tmp_path / "nothing.safetensors")
    with pytest.raises(ValueError, match="__header__"):
        np.savez(tmp_path / "plain.npz", x=np.zeros(2))
        numpy_gpt.load(tmp_path / "plain.npz")

    from llmlab.model import SequenceHead

    head = save_checkpoint(tmp_path / "head.safetensors", SequenceHead(tiny(0), 2))
    with pytest.raises(ValueError, match="plain GPTs only"):
        numpy_gpt.load(head)


def test_the_module_imports_nothing_but_numpy_and_the_standard_library():
    source = Path(numpy_gpt.__file__).read_text()
    imported = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imported <= set(sys.stdlib_module_names) | {"numpy", "llmlab"}
