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
from llmlab import pretrained
from llmlab import train as T
from llmlab.model import GPT, SequenceHead


def trained_checkpoint(path):
    """A checkpoint with every kind of tensor: weights, AdamW moments and steps, RNG states."""
    model = tiny()
    config = T.TrainConfig(batch_size=2, max_steps=3, eval_interval=0, log_interval=1)
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


def test_a_header_without_a_field_is_a_clear_error(tmp_path):
    from safetensors.numpy import save

    meta = {"format": C.CHECKPOINT_FORMAT, "sha256": C.digest({"x": np.zeros(2)})}
    (tmp_path / "bad").write_bytes(save({"x": np.zeros(2)}, metadata={"llmlab": json.dumps(meta)}))
    with pytest.raises(ValueError, match="has no field 'train_config'"):
        C.load_checkpoint(tmp_path / "bad")
    with pytest.raises(ValueError, match="unknown model architecture"):
        C.build({"kind": "mixture_of_experts"}, tiny().config)


def test_one_atomic_writer_for_checkpoints_and_tokenizers(tmp_path, monkeypatch):
    from llmlab.tokenization import CharTokenizer

    written = []
    real = C.write_atomically
    monkeypatch.setattr(C, "write_atomically", lambda p, d: written.append(p) or real(p, d))
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
