"""Learnability: an LSTM acceptor learns the parity of a bit string (the final state decides)."""

import torch
from torch.nn import functional as F

import rnnkit as rk
import rnnkit.patterns as rkp


def parity_batch(rows, max_len, generator):
    lengths = torch.randint(1, max_len + 1, (rows,), generator=generator)
    bits = torch.randint(0, 2, (rows, max_len), generator=generator)
    bits = bits.masked_fill(torch.arange(max_len) >= lengths.unsqueeze(1), 0)
    return bits, lengths, bits.sum(1) % 2


def test_lstm_acceptor_learns_parity_of_variable_length_bit_strings(single_thread):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = rkp.Acceptor(rk.LSTM(4, 16), num_classes=2, embedding=(2, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        bits, lengths, labels = parity_batch(64, 8, generator)
        loss = F.cross_entropy(model(bits, lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    bits, lengths, labels = parity_batch(1000, 8, torch.Generator().manual_seed(1))
    with torch.no_grad():
        accuracy = (model(bits, lengths).argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.98
