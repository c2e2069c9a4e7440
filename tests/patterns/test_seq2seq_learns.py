"""Learnability: a small attention Seq2Seq learns to reverse sequences (exact-match accuracy)."""

import pytest
import torch
from torch.nn import functional as F

import rnnkit.patterns as rkp

PAD, BOS, EOS = 0, 1, 2


def reversal_batch(rows, symbols, max_len, generator):
    lengths = torch.randint(1, max_len + 1, (rows,), generator=generator)
    steps = int(lengths.max())
    src = torch.randint(3, 3 + symbols, (rows, steps), generator=generator)
    src = src.masked_fill(torch.arange(steps) >= lengths.unsqueeze(1), PAD)
    target = torch.full((rows, steps + 1), PAD)
    for row, length in enumerate(lengths.tolist()):
        target[row, :length] = src[row, :length].flip(0)
        target[row, length] = EOS
    tgt_in = torch.cat([torch.full((rows, 1), BOS), target[:, :-1]], dim=1)
    return src, lengths, tgt_in, target


def reversal_exact_match(symbols, max_len, steps, lr, hidden_size=32):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    vocab = 3 + symbols
    model = rkp.Seq2Seq(vocab, vocab, embed_dim=16, hidden_size=hidden_size, cell="gru",
                        bidirectional=True, attention="luong")  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        src, lengths, tgt_in, target = reversal_batch(64, symbols, max_len, generator)
        logits = model(src, lengths, tgt_in)
        loss = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    src, lengths, _, target = reversal_batch(
        500, symbols, max_len, torch.Generator().manual_seed(1)
    )
    out = model.generate(src, lengths, max_len=max_len + 2)
    width = max(out.shape[1], target.shape[1])
    out, target = (F.pad(t, (0, width - t.shape[1]), value=PAD) for t in (out, target))
    return (out == target).all(dim=1).float().mean().item()


def test_attention_seq2seq_learns_to_reverse_short_sequences(single_thread):
    assert reversal_exact_match(symbols=5, max_len=5, steps=300, lr=0.02, hidden_size=48) >= 0.98


@pytest.mark.slow
def test_attention_seq2seq_reverses_sequences_up_to_six_at_99_percent(single_thread):
    assert reversal_exact_match(symbols=6, max_len=6, steps=1500, lr=0.01, hidden_size=48) >= 0.99
