# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 02 · Attention
#
# **What you will build:** the one idea a transformer adds to an ordinary network. Tokens become
# vectors; positions are mixed in; then every token asks the others a question and takes an
# average of their answers. You will compute attention by hand on four tokens with every matrix
# on screen, add the causal mask, split it into heads, check all of it against PyTorch — and then
# open up the course's trained model with the **attention explorer** and measure what its heads
# actually do.
#
# **CPU time:** about 30 seconds on a 2-core laptop (budget: 2 minutes), with the course's
# character model in the cache. Without it, the first run trains it (`llmlab prepare` does that
# ahead of time).

# %%
import llmlab

llmlab.setup()

# %% [markdown]
# ## 1. Tokens become vectors
#
# A model cannot compute with a token id like `52`: the number is a name, not a quantity (token 52
# is not "more" than token 51). So the first layer is a table, the **embedding**, with one
# learned vector per token. Looking up row `i` is the same as multiplying a one-hot vector by the
# table, which is why it counts as a layer and learns like one.
#
# Here is the course's character-level model (lesson 04 trains it; here we only look inside):

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

model, tokenizer = pretrained.load("char")

# %%
import torch
import torch.nn.functional as F

config = model.config
table = model.wte.weight.detach()  # [vocab, n_embd]
print(config)
print(f"embedding table: {tuple(table.shape)} = one {config.n_embd}-number vector per character")

ids = torch.tensor(tokenizer.encode("Romeo"))
one_hot = F.one_hot(ids, config.vocab_size).float()
assert torch.equal(model.wte(ids).detach(), table[ids])
assert torch.allclose(one_hot @ table, table[ids])  # a lookup is a one-hot matrix product

# %% [markdown]
# Training moves characters that behave alike to nearby vectors. Measure "nearby" by the
# **cosine similarity** (the angle between two vectors, ignoring their lengths) and list the
# nearest neighbours of a few characters:

# %% tags=["nbval-ignore-output"]
unit = F.normalize(table, dim=1)
similarity = unit @ unit.T  # [vocab, vocab]
similarity.fill_diagonal_(-1)  # a character is not its own neighbour


def neighbours(char: str, k: int = 5) -> list[str]:
    best = similarity[tokenizer.encode(char)[0]].topk(k).indices
    return [tokenizer.decode([i]) for i in best.tolist()]


for char in ["a", "e", "A", "T", "k", ".", "?", "\n"]:
    print(f"{char!r:6} -> {'  '.join(repr(c) for c in neighbours(char))}")

# %% [markdown]
# The pattern is measurable. Sort the characters into kinds — lowercase vowels, lowercase
# consonants, capitals, punctuation — and count how often a character's nearest neighbour is of
# its own kind, against what picking a random other character would give:

# %% tags=["nbval-ignore-output"]
KINDS = {
    "vowel": set("aeiou"),
    "consonant": set("bcdfghjklmnpqrstvwxyz"),
    "capital": set("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "punctuation": set("!\"$&',-.:;?—"),
}
kind_of = {c: kind for kind, chars in KINDS.items() for c in chars}
chars = [c for c in tokenizer.chars if c in kind_of]
same_kind = sum(kind_of.get(neighbours(c, 1)[0]) == kind_of[c] for c in chars) / len(chars)
chance = sum((len(KINDS[kind_of[c]]) - 1) / (len(tokenizer.chars) - 1) for c in chars) / len(chars)
print(f"nearest neighbour of the same kind: {same_kind:.0%} of {len(chars)} characters")
print(f"a random other character would be:  {chance:.0%}")
assert same_kind > 2 * chance

# %% [markdown]
# ## 2. Why order needs positions
#
# Attention, as we will see, lets each token take a weighted average of the others. An average
# does not care about order. Take the trained model's first attention layer — its weights, with
# no positions and no causal mask (a mask is a clue to order by itself: the first token sees
# only itself) — and feed it the same letters in two orders, `stop` and `pots`. Each letter
# comes out exactly the same, just in the other order:

# %%
from llmlab import attention

block = model.blocks[0]
layer = attention.MultiHeadAttention(config.n_embd, config.n_head, bias=config.bias)
layer.load_state_dict(block.attn.state_dict())  # the trained query/key/value/output weights


def attend(x: torch.Tensor) -> torch.Tensor:
    """The trained first attention layer (layer norm included), bidirectional: ``[1, T, C]``."""
    with torch.no_grad():
        return layer(block.ln_1(x))


def embed(text: str) -> torch.Tensor:
    """The trained embeddings of ``text``'s characters, ``[1, T, n_embd]``, no positions."""
    return table[tokenizer.encode(text)][None]


stop, pots = attend(embed("stop"))[0], attend(embed("pots"))[0]
order = [3, 2, 1, 0]  # 'pots' is 'stop' reversed: position i of one is 3 - i of the other
print("same output for each letter in both orders:", torch.allclose(stop, pots[order], atol=1e-6))
assert torch.allclose(stop, pots[order], atol=1e-6)

# %% [markdown]
# To the layer these two words are one bag of letters. The simplest fix is to add to each
# token's vector a vector that depends on its **position**: GPT-2 learns one vector per position;
# the original transformer used fixed sine waves (below). Most recent LLMs, and the course's
# model, rotate queries and keys instead (RoPE, below). With the sine-wave position vectors
# added, the two orders differ:

# %% tags=["nbval-ignore-output"]
positions = attention.sinusoidal_encoding(4, config.n_embd)  # one vector per position 0..3
stop_p = attend(embed("stop") + positions)[0]
pots_p = attend(embed("pots") + positions)[0]
gap = (stop_p - pots_p[order]).norm(dim=-1) / stop_p.norm(dim=-1)
print("relative difference per letter, with positions:", [round(g, 2) for g in gap.tolist()])
assert gap.min() > 0.05

# %% [markdown]
# **Sinusoidal encoding** (`attention.sinusoidal_encoding`): channel pair `2i, 2i+1` holds
# `sin, cos` of `position / 10000^(2i/d)` — fast waves in the first channels, slow ones in the
# last, like the hands of a clock. Every position gets its own pattern:

# %% tags=["nbval-ignore-output"]
from llmlab import viz

waves = attention.sinusoidal_encoding(64, 32)
viz.heatmap(waves, title="sinusoidal encoding", xlabel="channel", ylabel="position")

# %%
assert len({tuple(row.tolist()) for row in waves}) == 64  # no two positions look alike

# %% [markdown]
# **RoPE** (`attention.apply_rope`) turns each pair of channels of the queries and keys by an
# angle proportional to the position. The score of query `q` at position `m` and key `k` at
# position `n` then depends only on `m - n`: attention sees *relative* positions. Check it:

# %%
torch.manual_seed(0)
head_dim, T = 16, 40
cos, sin = attention.rope_frequencies(head_dim, T)
q, k = torch.randn(head_dim), torch.randn(head_dim)
rotated_q = attention.apply_rope(q.expand(T, head_dim), cos, sin)  # q at every position
rotated_k = attention.apply_rope(k.expand(T, head_dim), cos, sin)


def score(m: int, n: int) -> float:
    """The attention score of the query at position m for the key at position n."""
    return (rotated_q[m] @ rotated_k[n]).item()


print(f"score(5, 2) = {score(5, 2):.4f}, score(35, 32) = {score(35, 32):.4f}")
assert abs(score(5, 2) - score(35, 32)) < 1e-4 and abs(score(5, 2) - score(7, 2)) > 1e-3
assert torch.allclose(rotated_q.norm(dim=-1), q.norm().expand(T))  # rotation keeps lengths

# %% [markdown]
# ## 3. Attention by hand, on four tokens
#
# Each token makes three vectors from its embedding, with three learned matrices:
#
# - a **query** `q = x·Wq`: what am I looking for?
# - a **key** `k = x·Wk`: what do I offer?
# - a **value** `v = x·Wv`: what do I pass on if chosen?
#
# Token `i`'s attention to token `j` is the score `qᵢ·kⱼ` (how well the question matches the
# offer), divided by `√d`, turned into weights by a softmax over `j`. Its output is the weighted
# average of the values. Four tokens, 4-number vectors, all matrices printed:

# %%
torch.manual_seed(0)
tokens = list("dogs")
d = 4
X = torch.randn(4, d).round(decimals=1)  # stand-in embeddings (+ positions) of the 4 tokens
Wq, Wk, Wv = ((0.5 * torch.randn(d, d)).round(decimals=1) for _ in range(3))
Q, K, V = X @ Wq, X @ Wk, X @ Wv
shown = {"X": X, "Wq": Wq, "Wk": Wk, "Wv": Wv, "Q = X Wq": Q, "K = X Wk": K, "V = X Wv": V}
for name, matrix in shown.items():
    print(f"{name}:\n{matrix}\n")

# %% [markdown]
# Scores: every query against every key, one matrix product. Row `i`, column `j` is how much
# token `i` wants token `j`:

# %%
scores = Q @ K.T / d**0.5
weights = scores.softmax(dim=-1)
output = weights @ V
print(f"scores = Q Kᵀ / √{d}:\n{scores}\n")
print(f"weights = softmax(scores), row by row (each row sums to 1):\n{weights}\n")
print(f"output = weights V:\n{output}")
assert torch.allclose(weights.sum(dim=-1), torch.ones(4))

# %% [markdown]
# `llmlab.attention.attention` is the same computation (with masks and batches), and PyTorch's
# fused `F.scaled_dot_product_attention` agrees with both:

# %%
ours, ours_weights = attention.attention(Q, K, V)
assert torch.allclose(ours, output, atol=1e-6) and torch.allclose(ours_weights, weights)
assert torch.allclose(F.scaled_dot_product_attention(Q, K, V), output, atol=1e-5)
print("by hand == llmlab.attention.attention == torch.nn.functional.scaled_dot_product_attention")

# %% [markdown]
# **Why divide by `√d`?** A dot product of two random `d`-number vectors has a spread (standard
# deviation) of about `√d`. With `d = 128` unscaled scores are so far apart that the softmax puts
# nearly all weight on one key, and its gradient vanishes for the rest. Dividing by `√d` brings
# the scores back to a spread of about 1, whatever the width:

# %%
import math

for width in [4, 128]:
    q8, k8 = torch.randn(2000, 8, width), torch.randn(2000, 8, width)  # 2000 queries, 8 keys each
    raw = q8 @ k8.transpose(-1, -2)
    top_raw = raw.softmax(dim=-1).amax(dim=-1).mean().item()
    top_scaled = (raw / math.sqrt(width)).softmax(dim=-1).amax(dim=-1).mean().item()
    print(
        f"d = {width:3}: score spread {raw.std():5.1f}; largest weight of 8: "
        f"{top_raw:.2f} unscaled, {top_scaled:.2f} scaled"
    )
assert top_raw > 0.85 and top_scaled < 0.5

# %% [markdown]
# ## 4. The causal mask
#
# A model that predicts the next token must not see it. In a **decoder** like GPT, token `i` may
# attend only to tokens `0..i`: scores above the diagonal are set to `-inf` before the softmax,
# so they get weight exactly 0.

# %%
mask = attention.causal_mask(4)
print(f"may attend (True) — row = query, column = key:\n{mask}\n")
causal_weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
print(f"causal weights:\n{causal_weights}")
ours, ours_weights = attention.attention(Q, K, V, causal=True)
assert torch.allclose(ours_weights, causal_weights)
assert torch.allclose(F.scaled_dot_product_attention(Q, K, V, is_causal=True), ours, atol=1e-5)
assert (causal_weights.triu(diagonal=1) == 0).all()

# %% tags=["nbval-ignore-output"]
viz.heatmap(
    causal_weights,
    tokens,
    tokens,
    title="causal attention weights",
    xlabel="looked at (key)",
    ylabel="looking (query)",
)

# %% [markdown]
# So what a token computes cannot depend on anything after it. Change the last token and every
# earlier output stays exactly the same:

# %%
X_changed = X.clone()
X_changed[3] = torch.randn(d)
changed, _ = attention.attention(X_changed @ Wq, X_changed @ Wk, X_changed @ Wv, causal=True)
print("outputs 0..2 unchanged:", torch.equal(changed[:3], ours[:3]))
assert torch.equal(changed[:3], ours[:3]) and not torch.allclose(changed[3], ours[3])

# %% [markdown]
# ## 5. Several heads
#
# One set of weights can track one kind of relation at a time. **Multi-head attention** runs
# several small attentions side by side: the `C` channels are split into `H` heads of `C/H`
# channels, each head attends on its own, and the heads' outputs are concatenated and mixed by
# one more matrix. Same cost as one big head, several relations at once.

# %%
x = torch.randn(1, 5, 8)  # a batch of 1, 5 tokens, 8 channels
heads = attention.split_heads(x, n_heads=2)
print(
    f"{tuple(x.shape)} -> split into heads {tuple(heads.shape)} -> merged back "
    f"{tuple(attention.merge_heads(heads).shape)}"
)
assert torch.equal(attention.merge_heads(heads), x)

# %% [markdown]
# `attention.MultiHeadAttention` is that module. Given the same weights, PyTorch's
# `nn.MultiheadAttention` computes the same thing. (Careful with masks: ours, like
# `F.scaled_dot_product_attention`, says `True` = *may attend*; `nn.MultiheadAttention` says
# `True` = *blocked*.)

# %%
mha = attention.MultiHeadAttention(8, n_heads=2, causal=True)
reference = torch.nn.MultiheadAttention(8, num_heads=2, batch_first=True)
with torch.no_grad():
    reference.in_proj_weight.copy_(mha.qkv.weight)
    reference.in_proj_bias.copy_(mha.qkv.bias)
    reference.out_proj.weight.copy_(mha.proj.weight)
    reference.out_proj.bias.copy_(mha.proj.bias)
    ours, ours_weights = mha(x, need_weights=True)
    theirs, their_weights = reference(
        x, x, x, attn_mask=~attention.causal_mask(5), average_attn_weights=False
    )
print(f"output {tuple(ours.shape)}, weights {tuple(ours_weights.shape)} = [batch, heads, T, T]")
assert torch.allclose(ours, theirs, atol=1e-6) and torch.allclose(ours_weights, their_weights)

# %% [markdown]
# ## 6. Encoder or decoder?
#
# The same layer is used in two ways:
#
# - An **encoder** (BERT and its kin) is **bidirectional**: every token sees every other, before
#   and after it. It is trained to fill in hidden words and used to *understand* text — classify
#   it, compare it, find things in it.
# - A **decoder** (GPT and nearly every chat model) is **causal**: every token sees only its past.
#   Trained to predict the next token at every position of a text at once, it *generates* text,
#   one token at a time.
#
# (The original transformer, for translation, had both: an encoder reads the source sentence,
# a decoder writes the translation while attending to the encoder.) The difference is only the
# mask, and it shows: change the last token, and the first token's output changes in the encoder
# but not in the decoder.

# %%
encoder = attention.MultiHeadAttention(8, n_heads=2, causal=False)
decoder = attention.MultiHeadAttention(8, n_heads=2, causal=True)
decoder.load_state_dict(encoder.state_dict())  # the very same weights
x_changed = x.clone()
x_changed[0, -1] = torch.randn(8)
with torch.no_grad():
    encoder_moved = (encoder(x_changed) - encoder(x))[0, 0].abs().max().item()
    decoder_moved = (decoder(x_changed) - decoder(x))[0, 0].abs().max().item()
print(
    f"first token's output moved by {encoder_moved:.3f} in the encoder, {decoder_moved} in the decoder"
)
assert encoder_moved > 1e-3 and decoder_moved == 0.0

# %% [markdown]
# ## 7. Inside the trained model
#
# The course's model is a decoder: `n_layer` blocks, each with `n_head` causal heads. Asked with
# `return_attention=True`, it hands back every head's weights, `[batch, layer, head, T, T]`.
# First, make sure those are what we think they are: recompute layer 0's attention by hand from
# the model's own weights (embedding, layer norm, the query/key projections, RoPE's rotation of
# queries and keys, our `attention`) and compare.

# %%
text = "ROMEO:\nBut soft, what light through yonder window breaks?\n"
ids = torch.tensor([tokenizer.encode(text)])
with torch.no_grad():
    _, _, maps = model(ids, return_attention=True)
    block = model.blocks[0]
    h = block.ln_1(model.wte(ids))  # no position vectors: positions enter by rotation
    q, k, v = (attention.split_heads(t, config.n_head) for t in block.attn.qkv(h).chunk(3, dim=-1))
    cos, sin = attention.rope_frequencies(config.head_dim, ids.shape[1], config.rope_base)
    q, k = attention.apply_rope(q, cos, sin), attention.apply_rope(k, cos, sin)  # RoPE
    _, by_hand = attention.attention(q, k, v, causal=True)
print(f"attention maps: {tuple(maps.shape)}")
assert torch.allclose(by_hand[0], maps[0, 0], atol=1e-5)

# %% [markdown]
# ### The attention explorer
#
# Type a line (a speaker's name in capitals, a colon, a new line, the speech — the layout the
# model was trained on), pick a layer and a head, and pick a token with the `token` slider:
#
# - the **heat map** has one row per token: how that token spreads its attention over the tokens
#   before it (the chosen token's row is framed);
# - the **lines** show the same weights as links from each token (left) to the tokens it looks at
#   (right), the chosen token's in red: the darker the line, the more weight;
# - the **grid** below shows every head at once, to spot the ones worth a closer look.
#
# The model runs once per text; moving the sliders only picks a slice of what it returned.

# %% tags=["nbval-ignore-output"]
from llmlab import widgets

explorer = widgets.AttentionExplorer(model, tokenizer, text)
explorer

# %% [markdown]
# Driven from code, like any widget of the course:

# %%
before = (explorer.caption.value, explorer.image.value)
explorer.layer.value, explorer.head.value = 1, 2
print(f"now showing layer {explorer.layer.value}, head {explorer.head.value}")
assert explorer.caption.value != before[0] and explorer.image.value != before[1]

# %% [markdown]
# ### What the heads do, measured
#
# One line can mislead: a pattern that looks striking may be a coincidence of that line. To say
# what a head *does*, measure it on many texts. We run the model once on 32 windows of its full
# context (`block_size` characters) from the held-out plays (text it never trained on):

# %%
import re

from llmlab import corpus

T = config.block_size
valid_text = corpus.text("validation")
generator = torch.Generator().manual_seed(0)
starts = torch.randint(len(valid_text) - T, (32,), generator=generator).tolist()
windows = [valid_text[s : s + T] for s in starts]
with torch.no_grad():
    _, _, maps = model(torch.tensor([tokenizer.encode(w) for w in windows]), return_attention=True)
print(f"{tuple(maps.shape)} = [window, layer, head, query, key]")

# %% [markdown]
# Each statistic is the share of its attention a token gives to some *chosen* tokens, averaged
# over tokens. A 0/1 array `chosen[window, query, key]` says which keys count for which query.
# Its **chance** level is what a head spreading its attention evenly over the past would give:
# the number of chosen keys divided by the number of tokens the query can see.


# %%
def share(chosen: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Average attention on the chosen keys, per head ``[layer, head]``, and its chance level.

    ``chosen [window, query, key]`` is 1 for the keys that count; queries with none are skipped.
    """
    counted = chosen.sum(dim=-1) > 0  # [window, query]
    on_chosen = (maps * chosen[:, None, None]).sum(dim=-1)  # [window, layer, head, query]
    per_head = on_chosen.permute(0, 3, 1, 2)[counted].mean(dim=0)
    visible = torch.arange(1, T + 1)  # query t sees t + 1 tokens
    return per_head, (chosen.sum(dim=-1) / visible)[counted].mean().item()


def report(title: str, chosen: torch.Tensor) -> tuple[tuple[int, int], float, float]:
    """Print every head's share; return the best head, its share and the chance level."""
    per_head, chance = share(chosen)
    best = divmod(per_head.argmax().item(), config.n_head)
    print(f"{title} (chance {chance:.1%}); best: layer {best[0]}, head {best[1]}")
    for layer_index, row in enumerate(per_head.tolist()):
        print(f"  layer {layer_index}: " + "  ".join(f"{v:6.1%}" for v in row))
    return best, per_head.max().item(), chance


# %% [markdown]
# **The previous token.** Which characters came just before is the most useful thing to know
# about a text when predicting the next character (lesson 03's bigram model knew nothing else).

# %% tags=["nbval-ignore-output"]
previous = torch.zeros(len(windows), T, T)
previous[:, range(1, T), range(T - 1)] = 1  # query t, key t - 1
previous_head, previous_share, previous_chance = report("weight on the previous token", previous)
best_maps = maps[:, previous_head[0], previous_head[1]]  # [window, query, key]
back = [best_maps.diagonal(offset=-k, dim1=-2, dim2=-1).mean().item() for k in range(1, 6)]
print("the best head's weight 1, 2, 3, 4, 5 tokens back:", "  ".join(f"{v:.1%}" for v in back))
assert previous_share > 10 * previous_chance
assert back == sorted(back, reverse=True) and back[0] > 5 * back[1]

# %% [markdown]
# Far above chance: the best head is a **previous-token head**. It gives about half its weight
# to the token just before, and the rest falls off quickly over the next few tokens back. Such
# heads copy "what came just before" into each position, for the layers above to use.
#
# **The start of the line.** The plays are verse: capitals start lines, lines have a typical
# length. A head that finds the current line's start (the last newline) can tell how far into
# the line we are:

# %% tags=["nbval-ignore-output"]
line_start = torch.zeros(len(windows), T, T)
for b, window in enumerate(windows):
    last_newline = None
    for t, char in enumerate(window):
        if last_newline is not None:
            line_start[b, t, last_newline] = 1
        if char == "\n":
            last_newline = t
line_head, line_share, line_chance = report("weight on the start of the line", line_start)
assert line_share > 10 * line_chance

# %% [markdown]
# **The speaker's name.** Who speaks shapes what is said (a king, a clown). For the tokens inside
# a speech, how much attention goes to the name of that speech's speaker (`SIR TOBY BELCH` in
# `SIR TOBY BELCH:\nWho, Sir Andrew Aguecheek?`)?

# %% tags=["nbval-ignore-output"]
speaker = torch.zeros(len(windows), T, T)
for b, window in enumerate(windows):
    for match in re.finditer(r"\n\n([A-Z][A-Z ,.'&-]*):\n", window):
        end = window.find("\n\n", match.end())
        speech = slice(match.end(), T if end < 0 else end)
        speaker[b, speech, match.start(1) : match.end(1)] = 1
speaker_head, speaker_share, speaker_chance = report("weight on the speaker's name", speaker)
assert speaker_share < 2 * speaker_chance

# %% [markdown]
# No head of this model looks at the speaker's name more than a head spreading its attention
# evenly would. A pattern we might expect is not necessarily there: only a measurement says. (A
# small model with a short context gets more out of the last few characters than out of a name
# that may lie a hundred characters back; bigger models do learn such heads.)

# %% [markdown]
# **The first token.** Large models often park spare attention on the very first token of their
# context (an "attention sink"). This small model does not: every head gives the first token of
# a window (seen from at least 16 tokens later) less than chance.

# %% tags=["nbval-ignore-output"]
first = torch.zeros(len(windows), T, T)
first[:, 16:, 0] = 1
_, first_share, first_chance = report("weight on the first token", first)
assert first_share < first_chance

# %% [markdown]
# (The cells above print numbers that depend on the last bits of the trained weights, so the
# notebook tests skip comparing them; their `assert`s still run.)
#
# Now look at those heads in the explorer, on a text of a few lines, from the `b` of `nobler`.
# The line-start head is the easiest to see: every token of a line sends nearly all its weight to
# the newline that starts it (the dark columns of the heat map).

# %% tags=["nbval-ignore-output"]
explorer.text.value = "HAMLET:\nTo be, or not to be: that is the question:\nWhether 'tis nobler\n"
explorer.token.value = explorer.text.value.rindex("b")  # a token in the middle of a line
for name, (layer_index, head_index) in [
    ("previous token", previous_head),
    ("line start", line_head),
]:
    explorer.layer.value, explorer.head.value = layer_index, head_index
    summary = widgets.head_summary(explorer.pattern, explorer.maps.tokens, explorer.token.value)
    print(f"{name} head, layer {layer_index}, head {head_index}: {summary}")
explorer.layer.value, explorer.head.value = line_head
looked_at = explorer.pattern[explorer.token.value].argmax().item()
assert explorer.text.value[looked_at - 1 : looked_at + 2] == ":\nW"  # the newline before Whether

# %% tags=["nbval-ignore-output"]
explorer.figure

# %% [markdown]
# ## Recap
#
# - An embedding table gives each token a learned vector; training puts tokens that behave alike
#   near each other.
# - Attention alone sees a bag of tokens; positional encodings (learned, sinusoidal, RoPE) bring
#   order in.
# - Attention: `softmax(Q Kᵀ / √d) V`. Queries ask, keys offer, values are passed on; dividing by
#   `√d` keeps the softmax soft.
# - The causal mask makes a decoder (GPT): nothing a token computes depends on what comes after.
#   Without it, an encoder (BERT): every token sees the whole text.
# - Multi-head attention runs several small attentions side by side.
# - In a trained model, heads specialise, and a measured statistic — not one picture — says how.
#
# **Next:** lesson 03 shows how all these weights are learned: backpropagation.
#
# ## Exercises
#
# **Exercise 1.** Causal scaled dot-product attention by hand: `q`, `k`, `v` are `[T, d]` tensors;
# return the `[T, d]` output (do not call `llmlab.attention` or `F.scaled_dot_product_attention`).

# %%
from llmlab import exercises


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # your code here


exercises.check("causal_attention", causal_attention)

# %% [markdown]
# **Exercise 2.** How spread out is each token's attention? Return the entropy of every row of a
# `[T, T]` weight matrix, `-Σⱼ wⱼ log wⱼ` in nats, as a `[T]` tensor. A row that puts all its
# weight on one token has entropy 0; one spread evenly over `n` tokens has `log n`. Careful:
# masked weights are exactly 0, and `0 · log 0` must count as 0.


# %%
def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # your code here


exercises.check("attention_entropy", attention_entropy)

# %% [markdown]
# **Exercise 3.** The sinusoidal encoding from its formula: return a `[T, d]` tensor whose row
# `pos` holds, for each even channel `2i`, `sin(pos / 10000^(2i/d))`, and in channel `2i + 1` the
# cosine of the same angle.


# %%
def sinusoidal_encoding(T: int, d: int) -> torch.Tensor:
    raise NotImplementedError  # your code here


exercises.check("sinusoidal_encoding", sinusoidal_encoding)

# %% [markdown]
# To reveal a solution, run `exercises.solution("name")`. Here is the second one:

# %%
exercises.solution("attention_entropy")
