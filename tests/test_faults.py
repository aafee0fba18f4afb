"""Bad input, across the library and the command line: each case a clear error, never silence.

One table: a call that must fail, the exception type it must raise, and words its message must
contain (the argument's name and what is allowed). A raw error from deep inside torch or NumPy,
or a call that quietly succeeds, fails its row.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tiny_gpt import tiny

NAN, INF = math.nan, math.inf


def ids(*shape: int, high: int = 37) -> torch.Tensor:
    return torch.randint(high, shape, generator=torch.Generator().manual_seed(0))


def quick(**overrides):
    from llmlab.train_config import TrainConfig

    return TrainConfig(**{"batch_size": 2, "max_steps": 2, "eval_interval": 0, **overrides})


def train(data, **options):
    from llmlab.train import train as run

    return run(tiny(), data, None, quick(), progress=False, **options)


def gpt_config(**values):
    from llmlab.model import GPTConfig

    return GPTConfig(**values)


def train_config(**values):
    from llmlab.train_config import TrainConfig

    return TrainConfig(**values)


def chat():
    from llmlab.chat import chat_tokenizer
    from llmlab.tokenization import BPETokenizer

    return chat_tokenizer(BPETokenizer.train("to be or not to be " * 20, 270))


def mha(*args, **kwargs):
    from llmlab.attention import MultiHeadAttention

    return MultiHeadAttention(*args, **kwargs)


def lora(**options):
    from llmlab.lora import add_lora

    return add_lora(tiny(), **{"rank": 2, "alpha": 4.0, **options})


def numpy_config(**overrides):
    from llmlab.numpy_gpt import Config

    shape = {"vocab_size": 37, "block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 8}
    return Config.from_dict({**shape, "bias": True, "pos_encoding": "learned", **overrides})


def sampling(name, *args, **kwargs):
    from llmlab import sampling as s

    return getattr(s, name)(*args, **kwargs)


def attention(*args, **kwargs):
    from llmlab import attention as a

    return a.attention(*args, **kwargs)


def qkv(tq=3, tk=3, d=4):
    return torch.randn(1, tq, d), torch.randn(1, tk, d), torch.randn(1, tk, d)


def tokenizers():
    from llmlab import tokenization

    return tokenization


def autograd():
    from llmlab import autograd as a

    return a


def cli(*argv: str) -> None:
    """The ``llmlab`` command as a learner sees it: its exit status 2 and its one stderr line,
    turned into a ValueError for the table (a traceback would fail the row)."""
    import contextlib
    import io

    from llmlab.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            main(list(argv))
        except SystemExit as stop:
            if stop.code == 2 and "Traceback" not in err.getvalue():
                raise ValueError(err.getvalue().strip()) from None
            raise


def checkpoint():
    from llmlab import checkpoint as c

    return c


CASES = {
    # ------------------------------------------------------------------ model: configuration
    "GPTConfig vocab 0": (lambda: gpt_config(vocab_size=0), ValueError, "vocab_size"),
    "GPTConfig block True": (lambda: gpt_config(block_size=True), ValueError, "block_size"),
    "GPTConfig n_head 3": (lambda: gpt_config(n_head=3), ValueError, "n_head=3 must divide"),
    "GPTConfig dropout -0.5": (lambda: gpt_config(dropout=-0.5), ValueError, "dropout"),
    "GPTConfig dropout nan": (lambda: gpt_config(dropout=NAN), ValueError, "dropout"),
    "GPTConfig rope_base nan": (
        lambda: gpt_config(pos_encoding="rope", rope_base=NAN),
        ValueError,
        "rope_base",
    ),
    "GPTConfig rope_base inf": (lambda: gpt_config(rope_base=INF), ValueError, "rope_base"),
    "GPTConfig alibi": (lambda: gpt_config(pos_encoding="alibi"), ValueError, "pos_encoding"),
    "GPTConfig bias 1": (lambda: gpt_config(bias=1), TypeError, "bias"),
    "GPTConfig unknown field": (
        lambda: __import__("llmlab.model").model.GPTConfig.from_dict({"n_layers": 2}),
        ValueError,
        "unknown GPTConfig fields",
    ),
    "GPT of a dict": (
        lambda: __import__("llmlab.model").model.GPT({"n_layer": 2}),
        TypeError,
        "GPTConfig",
    ),
    # ------------------------------------------------------------------ model: calls
    "forward float ids": (lambda: tiny()(torch.rand(1, 4)), TypeError, "integer token ids"),
    "forward uint8 ids": (lambda: tiny()(ids(1, 4).to(torch.uint8)), ValueError, "uint8"),
    "generate uint8 ids": (
        lambda: tiny().generate(ids(1, 4).to(torch.uint8), 2),
        ValueError,
        "signed integer dtype",
    ),
    "sampling uint8 prompt": (
        lambda: sampling("generate", tiny(), ids(4).to(torch.uint8), 3),
        ValueError,
        "prompt_ids must hold token ids in a signed integer dtype",
    ),
    "numpy_gpt config dropout -0.5": (
        lambda: numpy_config(dropout=-0.5),
        ValueError,
        "model_config.dropout must be in [0, 1)",
    ),
    "numpy_gpt config n_head 3": (lambda: numpy_config(n_head=3), ValueError, "must divide"),
    "numpy_gpt config vocab 0": (lambda: numpy_config(vocab_size=0), ValueError, "vocab_size"),
    "numpy_gpt config bias 1": (lambda: numpy_config(bias=1), ValueError, "bias must be a bool"),
    "forward 1-D ids": (lambda: tiny()(ids(4)), ValueError, "shape [batch, time>=1]"),
    "forward empty batch": (lambda: tiny()(ids(0, 4)), ValueError, "empty batch"),
    "forward id 37": (lambda: tiny()(torch.tensor([[1, 37]])), ValueError, "0..36"),
    "forward id -1": (lambda: tiny()(torch.tensor([[1, -1]])), ValueError, "0..36"),
    "forward too long": (lambda: tiny()(ids(1, 17)), ValueError, "block_size"),
    "targets shape": (lambda: tiny()(ids(1, 4), ids(1, 3)), ValueError, "targets must have"),
    "targets float": (lambda: tiny()(ids(1, 4), torch.rand(1, 4)), TypeError, "targets"),
    "targets 99": (lambda: tiny()(ids(1, 2), torch.tensor([[1, 99]])), ValueError, "targets"),
    "attention_mask shape": (
        lambda: tiny()(ids(2, 4), attention_mask=torch.ones(2, 3)),
        ValueError,
        "attention_mask must be",
    ),
    "cache in training": (
        lambda: tiny().train()(ids(1, 2), cache=tiny().new_cache(1)),
        ValueError,
        "model.eval()",
    ),
    "cache batch 0": (lambda: tiny().new_cache(0), ValueError, "batch_size"),
    "generate max_new_tokens True": (
        lambda: tiny().generate(ids(3), True),
        ValueError,
        "max_new_tokens",
    ),
    "generate max_new_tokens -1": (lambda: tiny().generate(ids(3), -1), ValueError, "max_new"),
    "generate temperature -1": (
        lambda: tiny().generate(ids(3), 2, temperature=-1),
        ValueError,
        "temperature",
    ),
    "generate temperature nan": (
        lambda: tiny().generate(ids(3), 2, temperature=NAN),
        ValueError,
        "temperature",
    ),
    "generate top_k 0": (lambda: tiny().generate(ids(3), 2, top_k=0), ValueError, "top_k"),
    "generate empty prompt": (
        lambda: tiny().generate(torch.zeros(0, dtype=torch.long), 2),
        ValueError,
        "empty prompt",
    ),
    "SequenceHead n_outputs 0": (
        lambda: __import__("llmlab.model").model.SequenceHead(tiny(), 0),
        ValueError,
        "n_outputs",
    ),
    "SequenceHead of a list": (
        lambda: __import__("llmlab.model").model.SequenceHead([], 2),
        TypeError,
        "gpt must be",
    ),
    "last token of an empty row": (
        lambda: __import__("llmlab.model").model.last_real_positions(torch.zeros(1, 3)),
        ValueError,
        "no real token",
    ),
    # ------------------------------------------------------------------ attention
    "MultiHeadAttention d_model 0": (lambda: mha(0, 2), ValueError, "d_model"),
    "MultiHeadAttention heads 0": (lambda: mha(8, 0), ValueError, "n_heads"),
    "MultiHeadAttention 8 by 3": (lambda: mha(8, 3), ValueError, "n_heads=3 must divide"),
    "MultiHeadAttention dropout -0.5": (lambda: mha(8, 2, dropout=-0.5), ValueError, "dropout"),
    "MultiHeadAttention dropout nan": (lambda: mha(8, 2, dropout=NAN), ValueError, "dropout"),
    "attention dropout 1.5": (lambda: attention(*qkv(), dropout=1.5), ValueError, "dropout"),
    "attention shapes": (lambda: attention(*qkv(d=4)[:2], torch.randn(1, 5, 4)), ValueError, "v"),
    "sinusoidal base 0": (
        lambda: __import__("llmlab.attention").attention.sinusoidal_encoding(4, 8, base=0),
        ValueError,
        "base",
    ),
    "sinusoidal odd d": (
        lambda: __import__("llmlab.attention").attention.sinusoidal_encoding(4, 7),
        ValueError,
        "even",
    ),
    "rope base -1": (
        lambda: __import__("llmlab.attention").attention.rope_frequencies(8, 4, base=-1),
        ValueError,
        "base",
    ),
    "rope base nan": (
        lambda: __import__("llmlab.attention").attention.rope_frequencies(8, 4, base=NAN),
        ValueError,
        "base",
    ),
    "rope odd head_dim": (
        lambda: __import__("llmlab.attention").attention.rope_frequencies(7, 4),
        ValueError,
        "head_dim",
    ),
    "causal_mask 0": (
        lambda: __import__("llmlab.attention").attention.causal_mask(0),
        ValueError,
        "T must be",
    ),
    # ------------------------------------------------------------------ autograd
    "Neuron -3": (lambda: autograd().Neuron(-3), ValueError, "n_inputs"),
    "Neuron activation": (lambda: autograd().Neuron(2, "swish"), ValueError, "activation"),
    "Layer 2 -1": (lambda: autograd().Layer(2, -1), ValueError, "n_outputs"),
    "MLP sizes": (lambda: autograd().MLP(2, [3, 0]), ValueError, "sizes"),
    "Value of a str": (lambda: autograd().Value("3"), TypeError, "int or float"),
    # ------------------------------------------------------------------ training
    "TrainConfig batch 0": (lambda: train_config(batch_size=0), ValueError, "batch_size"),
    "TrainConfig batch True": (lambda: train_config(batch_size=True), ValueError, "batch_size"),
    "TrainConfig lr -1": (lambda: train_config(learning_rate=-1), ValueError, "learning_rate"),
    "TrainConfig lr nan": (lambda: train_config(learning_rate=NAN), ValueError, "learning_rate"),
    "TrainConfig min_lr": (lambda: train_config(min_lr=1.0), ValueError, "min_lr"),
    "TrainConfig beta1 1": (lambda: train_config(beta1=1.0), ValueError, "beta1"),
    "TrainConfig beta2 nan": (lambda: train_config(beta2=NAN), ValueError, "beta2"),
    "TrainConfig float16": (lambda: train_config(dtype="float16"), ValueError, "dtype"),
    "TrainConfig max_seconds 0": (lambda: train_config(max_seconds=0), ValueError, "max_seconds"),
    "TrainConfig decay 0": (lambda: train_config(decay_steps=0), ValueError, "decay_steps"),
    "TrainConfig unknown": (
        lambda: __import__("llmlab.train_config").train_config.TrainConfig.from_dict({"lr": 1}),
        ValueError,
        "unknown TrainConfig fields",
    ),
    "train float array": (lambda: train(np.ones(100)), TypeError, "integer token ids"),
    "train str array": (lambda: train(np.array(["a"] * 100)), TypeError, "integer token ids"),
    "train bool tensor": (lambda: train(torch.ones(100, dtype=torch.bool)), TypeError, "integer"),
    "train 2-D": (lambda: train(ids(10, 10)), TypeError, "1-D"),
    "train empty": (lambda: train(torch.zeros(0, dtype=torch.long)), ValueError, "got 0"),
    "train negative id": (lambda: train(torch.tensor([-1] * 100)), ValueError, "min id -1"),
    "train id 37": (lambda: train(torch.tensor([37] * 100)), ValueError, "0..36"),
    "train uint8 ids": (lambda: train(np.full(100, 40, dtype=np.uint8)), ValueError, "0..36"),
    "train of a list of str": (lambda: train(["a", "b"]), TypeError, "token ids"),
    "train resume without path": (lambda: train(ids(100), resume=True), ValueError, "resume"),
    "train checkpoint under a file": (
        lambda: train(ids(100), checkpoint=__file__ + "/c.safetensors"),
        ValueError,
        "checkpoint",
    ),
    "train tokenizer not JSON": (
        lambda: train(ids(100), tokenizer={"set": {1, 2}}),
        TypeError,
        "tokenizer",
    ),
    "train extra not JSON": (lambda: train(ids(100), extra={"f": print}), TypeError, "extra"),
    "get_batch too short": (
        lambda: __import__("llmlab.train").train.get_batch(ids(5), 2, 8, torch.Generator()),
        ValueError,
        "block_size + 1",
    ),
    "evaluate too short": (
        lambda: __import__("llmlab.train").train.evaluate(tiny(), ids(10)),
        ValueError,
        "block_size + 1",
    ),
    # ------------------------------------------------------------------ tokenizers
    "CharTokenizer of an int": (lambda: tokenizers().CharTokenizer(3), TypeError, "text"),
    "CharTokenizer empty": (
        lambda: tokenizers().CharTokenizer(""),
        ValueError,
        "at least one character",
    ),
    "CharTokenizer unknown char": (
        lambda: tokenizers().CharTokenizer("abc").encode("abz"),
        ValueError,
        "'z'",
    ),
    "CharTokenizer decode 9": (
        lambda: tokenizers().CharTokenizer("abc").decode([9]),
        ValueError,
        "9",
    ),
    "CharTokenizer surrogate": (
        lambda: tokenizers().CharTokenizer("a\udc80"),
        ValueError,
        "lone surrogate",
    ),
    "BPE vocab 100": (
        lambda: tokenizers().BPETokenizer.train("to be", 100),
        ValueError,
        "vocab_size",
    ),
    "BPE specials as str": (
        lambda: tokenizers().BPETokenizer.train("to be", 300, "<|x|>"),
        TypeError,
        "special_tokens",
    ),
    "BPE special with newline": (
        lambda: tokenizers().BPETokenizer.train("to be", 300, ["<|a\n|>"]),
        ValueError,
        "newline",
    ),
    "BPE encode an int": (lambda: chat().encode(5), TypeError, "text"),
    "BPE decode 5000": (lambda: chat().decode([5000]), ValueError, "5000"),
    "BPE surrogate": (lambda: chat().encode("be\ud800"), ValueError, "lone surrogate"),
    "encode_iterable of a str": (
        lambda: list(chat().encode_iterable("to be")),
        TypeError,
        "iterable of str",
    ),
    "tokenizer_from_dict format": (
        lambda: tokenizers().tokenizer_from_dict({"format": "sentencepiece"}),
        ValueError,
        "format",
    ),
    "load_tokenizer missing file": (
        lambda: tokenizers().load_tokenizer("/no/such/tokenizer.json"),
        FileNotFoundError,
        "tokenizer.json",
    ),
    "load_tokenizer not JSON": (
        lambda: tokenizers().load_tokenizer(__file__),
        ValueError,
        "not a JSON file",
    ),
    # ------------------------------------------------------------------ checkpoints
    "load_checkpoint missing": (
        lambda: checkpoint().load_checkpoint("/no/such.safetensors"),
        FileNotFoundError,
        "no checkpoint at",
    ),
    "load_checkpoint of a .py": (
        lambda: checkpoint().load_checkpoint(__file__),
        ValueError,
        "not a valid llmlab checkpoint",
    ),
    "read_numpy of a .py": (
        lambda: checkpoint().read_numpy(__file__),
        ValueError,
        "not a valid llmlab checkpoint",
    ),
    "build unknown kind": (
        lambda: checkpoint().build({"kind": "moe"}, tiny().config),
        ValueError,
        "unknown model architecture",
    ),
    "save optimizer without generator": (
        lambda: checkpoint().save_checkpoint(
            "/tmp/x", tiny(), torch.optim.SGD(tiny().parameters(), 0.1)
        ),
        ValueError,
        "generator",
    ),
    "save a Linear": (
        lambda: checkpoint().save_checkpoint("/tmp/x", torch.nn.Linear(2, 2)),
        TypeError,
        "GPT",
    ),
    # ------------------------------------------------------------------ standard models, corpus
    "pretrained unknown": (
        lambda: __import__("llmlab.pretrained").pretrained.load("gpt5"),
        ValueError,
        "unknown standard model 'gpt5'",
    ),
    "corpus split": (
        lambda: __import__("llmlab.corpus").corpus.speeches("test"),
        ValueError,
        "split",
    ),
    "course lesson 42": (
        lambda: __import__("llmlab.course").course.lesson(42),
        ValueError,
        "lesson number must be one of",
    ),
    "setup threads 0": (lambda: __import__("llmlab").setup(threads=0), ValueError, "threads"),
    "power law of one point": (
        lambda: __import__("llmlab.scaling").scaling.fit_power_law([1.0], [2.0]),
        ValueError,
        "at least 2 points",
    ),
    "power law of negatives": (
        lambda: __import__("llmlab.scaling").scaling.fit_power_law([1, -2], [2, 3]),
        ValueError,
        "positive",
    ),
    "code length of nothing": (
        lambda: __import__("llmlab.scaling").scaling.code_length_bits(tiny(), []),
        ValueError,
        "non-empty",
    ),
    # ------------------------------------------------------------------ fine-tuning and LoRA
    "chat reply first": (
        lambda: __import__("llmlab.chat").chat.render_chat([("assistant", "hi")], chat()),
        ValueError,
        "turns[0]",
    ),
    "chat ends with user": (
        lambda: __import__("llmlab.chat").chat.render_chat([("user", "hi")], chat()),
        ValueError,
        "turns",
    ),
    "chat empty reply": (
        lambda: __import__("llmlab.chat").chat.render_chat(
            [("user", "hi"), ("assistant", "")], chat()
        ),
        ValueError,
        "turns[1]",
    ),
    "chat unknown role": (
        lambda: __import__("llmlab.chat").chat.render_chat(
            [("user", "hi"), ("king", "no")], chat()
        ),
        ValueError,
        "role",
    ),
    "chat without chat tokens": (
        lambda: __import__("llmlab.chat").chat.render_chat(
            [("user", "hi"), ("assistant", "no")],
            tokenizers().BPETokenizer.train("to be or not " * 9, 260),
        ),
        ValueError,
        "tokenizer",
    ),
    "grow vocabulary smaller": (
        lambda: __import__("llmlab.finetune").finetune.grow_vocabulary(tiny(), 30),
        ValueError,
        "new_vocab_size",
    ),
    "LoRA rank 0": (lambda: lora(rank=0), ValueError, "rank"),
    "LoRA rank 999": (lambda: lora(rank=999), ValueError, "rank"),
    "LoRA alpha 0": (lambda: lora(alpha=0), ValueError, "alpha"),
    "LoRA alpha nan": (lambda: lora(alpha=NAN), ValueError, "alpha"),
    "LoRA dropout 1": (lambda: lora(dropout=1.0), ValueError, "dropout"),
    "LoRA target nothing": (lambda: lora(targets=("query",)), ValueError, "query"),
    "LoRA target a str": (lambda: lora(targets="qkv"), TypeError, "targets"),
    "LoRA on a LayerNorm": (lambda: lora(targets=("ln_1",)), TypeError, "ln_1"),
    "LoRA on the tied head": (lambda: lora(targets=("lm_head",)), ValueError, "wte"),
    # ------------------------------------------------------------------ the llmlab command
    "cli pretrain max-steps -3": (
        lambda: cli("pretrain", "--max-steps", "-3"),
        ValueError,
        "llmlab: error: TrainConfig.max_steps must be an int >= 1",
    ),
    "cli pretrain lr nan": (
        lambda: cli("pretrain", "--lr", "nan"),
        ValueError,
        "llmlab: error: TrainConfig.learning_rate",
    ),
    "cli pretrain dropout 2": (
        lambda: cli("pretrain", "--dropout", "2"),
        ValueError,
        "llmlab: error: GPTConfig.dropout",
    ),
    "cli pretrain pos-encoding": (
        lambda: cli("pretrain", "--pos-encoding", "alibi"),
        ValueError,
        "llmlab: error: GPTConfig.pos_encoding",
    ),
    "cli pretrain out folder": (
        lambda: cli("pretrain", "--out", "/no/such/dir/c.safetensors"),
        ValueError,
        "llmlab: error: --out",
    ),
    "cli pretrain sft": (
        lambda: cli("pretrain", "--recipe", "sft"),
        ValueError,
        "llmlab: error: --recipe sft fine-tunes",
    ),
    "cli prepare unknown": (
        lambda: cli("prepare", "gpt9"),
        ValueError,
        "llmlab: error: names must be among",
    ),
    "cli sample missing checkpoint": (
        lambda: cli("sample", "--checkpoint", "/no/such.safetensors"),
        ValueError,
        "llmlab: error: no checkpoint at",
    ),
    "cli sample damaged checkpoint": (
        lambda: cli("sample", "--checkpoint", __file__),
        ValueError,
        "llmlab: error: ",
    ),
    "cli unknown command": (lambda: cli("train-gpt5"), ValueError, "invalid choice"),
    # ------------------------------------------------------------------ exercises
    "check unknown exercise": (
        lambda: __import__("llmlab.exercises").exercises.check("no_such", print),
        ValueError,
        "no_such",
    ),
    "check n_cases 0": (
        lambda: __import__("llmlab.exercises").exercises.check("count_pairs", print, n_cases=0),
        ValueError,
        "n_cases must be an int >= 1",
    ),
    "check of a str": (
        lambda: __import__("llmlab.exercises").exercises.check("count_pairs", "print"),
        TypeError,
        "callable",
    ),
    # ------------------------------------------------------------------ widgets
    "DescentPlayground lr -1": (
        lambda: __import__("llmlab.widgets").widgets.DescentPlayground(lr=-1),
        ValueError,
        "lr must be in [0.001, 1.0]",
    ),
    "DescentPlayground lr 50": (
        lambda: __import__("llmlab.widgets").widgets.DescentPlayground(lr=50),
        ValueError,
        "lr must be in",
    ),
    "DescentPlayground steps 0": (
        lambda: __import__("llmlab.widgets").widgets.DescentPlayground(steps=0),
        ValueError,
        "steps",
    ),
    "DescentPlayground surface": (
        lambda: __import__("llmlab.widgets").widgets.DescentPlayground("volcano"),
        ValueError,
        "surface",
    ),
    # ------------------------------------------------------------------ sampling
    "sampling temperature -1": (
        lambda: sampling("temperature", torch.randn(1, 5), -1.0),
        ValueError,
        "temperature",
    ),
    "sampling temperature nan": (
        lambda: sampling("temperature", torch.randn(1, 5), NAN),
        ValueError,
        "temperature",
    ),
    "sampling top_k 0": (lambda: sampling("top_k", torch.randn(1, 5), 0), ValueError, "top_k"),
    "sampling top_k True": (
        lambda: sampling("top_k", torch.randn(1, 5), True),
        ValueError,
        "top_k",
    ),
    "sampling top_p 0": (lambda: sampling("top_p", torch.randn(1, 5), 0.0), ValueError, "top_p"),
    "sampling top_p 1.5": (
        lambda: sampling("top_p", torch.randn(1, 5), 1.5),
        ValueError,
        "top_p",
    ),
    "sampling min_p -0.1": (
        lambda: sampling("min_p", torch.randn(1, 5), -0.1),
        ValueError,
        "min_p",
    ),
    "sampling penalty 0": (
        lambda: sampling("repetition_penalty", torch.randn(1, 5), [[1]], 0.0),
        ValueError,
        "penalty",
    ),
    "sampling beams 0": (
        lambda: sampling("beam_search", tiny(), [1, 2], 0, 3),
        ValueError,
        "num_beams",
    ),
    "sampling empty prompt": (
        lambda: sampling("generate", tiny(), [], 3),
        ValueError,
        "prompt",
    ),
    "sampling stop id 99": (
        lambda: sampling("generate", tiny(), [1], 3, stop_ids=[99]),
        ValueError,
        "stop",
    ),
}


def test_inputs_once_refused_with_a_raw_error_now_work():
    model = tiny().eval()
    x = ids(2, 5)
    for dtype in (torch.int8, torch.int16, torch.int32):
        logits, loss = model(x.to(dtype), x.to(torch.int32))
        torch.testing.assert_close(logits, model(x)[0], rtol=0, atol=0)
        assert math.isfinite(loss.item())
    # a temperature so small that logits / t overflows: the most likely token, not NaN
    greedy = model.generate(x, 4, temperature=0)
    assert torch.equal(model.generate(x, 4, temperature=1e-40), greedy)


def test_an_answer_of_another_kind_is_a_mismatch_not_a_crash(capsys):
    from llmlab import exercises

    def as_array(words):  # the reference returns a dict of pair counts
        return np.array([1, 2])

    assert exercises.check("count_pairs", as_array) is False
    assert "expected a dict, got a ndarray" in capsys.readouterr().out


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_a_clear_error(case):
    call, kind, words = CASES[case]
    with pytest.raises(kind) as raised:
        call()
    assert words in str(raised.value), f"{case}: {raised.value}"
    assert type(raised.value).__module__ in ("builtins", "llmlab"), type(raised.value)


def test_the_table_is_big_enough():
    assert len(CASES) >= 100
