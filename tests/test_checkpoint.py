"""llmlab.checkpoint: NumPy reads what torch reads, heads are rebuilt, misfits are named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_gpt import tiny

from llmlab import checkpoint as C
from llmlab import files, pretrained
from llmlab import train as T
from llmlab.model import GPT, SequenceHead
from llmlab.train_config import TrainConfig


def trained_checkpoint(path):
    """A checkpoint with every kind of tensor: weights, AdamW moments and steps, RNG states."""
    model = tiny()
    config = TrainConfig(batch_size=2, max_steps=3, eval_interval=0, log_interval=1)
    data = torch.randint(37, (400,), generator=torch.Generator().manual_seed(0))
    T.train(model, data, None, config, checkpoint=path, progress=False)
    return path


def test_numpy_reads_every_tensor_bit_for_bit_like_torch(tmp_path):
    shipped = pretrained.SHIPPED / f"char-{pretrained.fingerprint('char')}.safetensors"
    for path in (trained_checkpoint(tmp_path / "c.safetensors"), shipped):
        meta, arrays = C.read_numpy(path)
        saved = C.load_checkpoint(path)
        assert sorted(arrays) == sorted(saved.tensors)
        assert meta["step"] == saved.step and meta["model_config"] == saved.model_config.to_dict()
        for name, tensor in saved.tensors.items():
            array = arrays[name]
            assert array.dtype == tensor.numpy().dtype and array.shape == tuple(tensor.shape)
            assert array.tobytes() == tensor.numpy().tobytes(), name


def test_reading_with_numpy_never_imports_torch(tmp_path):
    path = trained_checkpoint(tmp_path / "c.safetensors")
    code = (
        "import sys; from llmlab.checkpoint import read_numpy; "
        f"meta, arrays = read_numpy({str(path)!r}); "
        "assert arrays['model.wte.weight'].shape == (37, 32), arrays['model.wte.weight'].shape; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_numpy_refuses_a_damaged_file_as_torch_does(tmp_path):
    path = trained_checkpoint(tmp_path / "c.safetensors")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10  # a bit of the last tensor's data
    path.write_bytes(bytes(data))
    for read in (C.read_numpy, C.load_checkpoint):
        with pytest.raises(ValueError, match="SHA-256"):
            read(path)


def test_a_sequence_head_is_recorded_and_rebuilt(tmp_path):
    head = SequenceHead(tiny(), n_outputs=4).eval()
    C.save_checkpoint(tmp_path / "h", head)
    saved = C.load_checkpoint(tmp_path / "h")
    assert saved.architecture == {"kind": "sequence_head", "n_outputs": 4}
    clone = saved.build_model().eval()
    assert isinstance(clone, SequenceHead) and clone.n_outputs == 4
    x = torch.randint(37, (2, 7))
    assert torch.equal(clone(x), head(x))
    # a plain GPT's header is unchanged: no architecture field, read back as a GPT
    C.save_checkpoint(tmp_path / "g", tiny())
    meta, _ = C.read_numpy(tmp_path / "g")
    assert "architecture" not in meta
    assert isinstance(C.load_checkpoint(tmp_path / "g").build_model(), GPT)


def test_weights_that_do_not_fit_are_named(tmp_path):
    C.save_checkpoint(tmp_path / "g", tiny())
    with pytest.raises(ValueError, match=r"missing from the file \['gpt.blocks.0.attn.proj.bias'"):
        C.load_checkpoint(tmp_path / "g").load_model(SequenceHead(tiny(), 2))
    C.save_checkpoint(tmp_path / "h", SequenceHead(tiny(), 2))
    with pytest.raises(
        ValueError,
        match=r"not have \['gpt.blocks.0.*and 25 more \(the file holds a .sequence_head",
    ):
        C.load_checkpoint(tmp_path / "h").load_model(tiny())
    with pytest.raises(ValueError, match=r"score.weight has shape \[2, 32\] in the file and \[3"):
        C.load_checkpoint(tmp_path / "h").load_model(SequenceHead(tiny(), 3))


def write_by_hand(path, meta: dict, tensors: dict) -> None:
    """A checkpoint with any header, its digest computed as save_checkpoint computes it."""
    from safetensors.numpy import save

    meta = {"format": C.CHECKPOINT_FORMAT, **meta}
    meta["sha256"] = C.digest(tensors, meta)
    path.write_bytes(save(tensors, metadata={"llmlab": json.dumps(meta)}))


def test_header_fields_are_checked_and_named(tmp_path):
    good = C.read_numpy(C.save_checkpoint(tmp_path / "good", tiny()))
    meta, arrays = {k: v for k, v in good[0].items() if k not in ("sha256", "format")}, good[1]
    bad_fields = {
        "train_config": ("train_config", None, "missing"),
        "step": ("step", -3, "int >= 0"),
        "tokenizer": ("tokenizer", [1, 2], "expected a dict or null"),
        "extra": ("extra", None, "expected a dict"),
        "model_config": ("model_config", {**meta["model_config"], "n_layer": 3}, "missing from"),
        "n_head": ("model_config", {**meta["model_config"], "n_head": 5}, "n_head=5 must divide"),
        "architecture": ("architecture", {"kind": "sequence_head"}, "unknown model architecture"),
    }
    for case, (name, value, words) in bad_fields.items():
        changed = {k: v for k, v in meta.items() if k != name}
        if value is not None or case != "train_config":
            changed[name] = value
        write_by_hand(tmp_path / case, changed, arrays)
        with pytest.raises(ValueError, match=f"header field '{name}' is wrong: .*{words}"):
            C.load_checkpoint(tmp_path / case)


@pytest.mark.once  # about 40 s: 16,000 damaged files read by the NumPy reader
def test_every_flipped_bit_of_the_header_is_refused_or_changes_nothing(tmp_path):
    """The digest covers the header: a flip is refused, or it leaves the same parsed header."""
    model = tiny(n_layer=1, n_embd=8, n_head=2, vocab_size=5, block_size=4)
    path = C.save_checkpoint(tmp_path / "c", model, step=3, extra={"note": "a"})
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    original = C.read_numpy(path)[0]
    outcomes = {"refused": 0, "same": 0}
    for byte in range(8, header_end):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[byte] ^= 1 << bit
            path.write_bytes(bytes(flipped))
            try:
                meta = C.read_numpy(path)[0]
            except ValueError:
                outcomes["refused"] += 1
                continue
            assert meta == original, (byte, bit)
            outcomes["same"] += 1
    assert outcomes["refused"] > 0.95 * sum(outcomes.values())


def test_one_atomic_writer_for_checkpoints_and_tokenizers(tmp_path, monkeypatch):
    from llmlab.tokenization import CharTokenizer

    written = []
    real = files.write_atomically
    monkeypatch.setattr(files, "write_atomically", lambda p, d: written.append(p) or real(p, d))
    CharTokenizer("abc").save(tmp_path / "t.json")
    C.save_checkpoint(tmp_path / "c", tiny())
    assert [Path(p).name for p in written] == ["t.json", "c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "t.json"]  # no temporary left


@pytest.mark.parametrize("with_head", [False, True])
def test_a_lora_model_saves_and_loads_with_its_adapters(tmp_path, with_head):
    from llmlab.lora import add_lora, count_parameters

    model = SequenceHead(tiny(), 3) if with_head else tiny()
    add_lora(model, rank=2, alpha=4.0, trainable=("score",) if with_head else ())
    with torch.no_grad():  # adapters that have learned something
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_()
    C.save_checkpoint(tmp_path / "l", model)
    saved = C.load_checkpoint(tmp_path / "l")
    assert saved.architecture["lora"]["rank"] == 2 and saved.architecture["lora"]["alpha"] == 4.0
    clone = saved.build_model().eval()
    assert count_parameters(clone) == count_parameters(model)
    x = torch.randint(37, (2, 6))
    ours, theirs = clone(x), model.eval()(x)
    if not with_head:
        ours, theirs = ours[0], theirs[0]  # the logits of (logits, loss)
    assert torch.equal(ours, theirs)


def test_every_truncation_and_tensor_bit_flip_is_refused(tmp_path):
    path = trained_checkpoint(tmp_path / "c.safetensors")  # weights, AdamW state, RNG states
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    damaged = tmp_path / "damaged"
    for length in range(0, len(data), max(1, len(data) // 60)):  # 60 truncations, 0 included
        damaged.write_bytes(data[:length])
        with pytest.raises(ValueError, match="not a valid llmlab checkpoint"):
            C.load_checkpoint(damaged)
    rng = np.random.default_rng(0)
    for offset in rng.integers(header_end, len(data), 300):  # 300 flips in the tensors' bytes
        flipped = bytearray(data)
        flipped[offset] ^= 1 << int(rng.integers(8))
        damaged.write_bytes(bytes(flipped))
        for read in (C.load_checkpoint, C.read_numpy):
            with pytest.raises(ValueError, match="SHA-256"):
                read(damaged)
