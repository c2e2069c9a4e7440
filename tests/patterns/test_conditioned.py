import pytest
import torch
from torch import nn
from torch.nn import functional as F

import rnnkit as rk
import rnnkit.patterns as rkp

PAD, BOS, EOS = 0, 1, 2


class TinyCNN(nn.Module):
    """Images (B, 1, 8, 8) -> a 4x4 grid of 6-d features (B, 16, 6), or their mean (B, 6)."""

    def __init__(self, grid: bool):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3, stride=2, padding=1)
        self.grid = grid

    def forward(self, images):
        features = torch.relu(self.conv(images)).flatten(2).transpose(1, 2)
        return features if self.grid else features.mean(1)


class Regions(nn.Module):
    """Precomputed region features, passed through (lengths say how many are real)."""

    def forward(self, regions, lengths=None):
        return regions


def captioner(grid, seed=0):
    torch.manual_seed(seed)
    decoder = rkp.RecurrentDecoder(
        12, 8, 16, context_size=6, feed_context=not grid,
        attention="bahdanau" if grid else None, memory_size=6,
    )  # fmt: skip
    with torch.no_grad():
        decoder.out.weight.mul_(4.0)
    return rkp.ConditionedGenerator(TinyCNN(grid), decoder, bos_id=BOS, eos_id=EOS, pad_id=PAD)


@pytest.mark.parametrize("grid", [False, True])
def test_image_captioner_greedy_is_the_argmax_of_teacher_forcing_and_batch_independent(grid):
    model = captioner(grid).eval()
    images = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        out = model.generate(images, max_len=7)
        tgt_in = torch.cat([torch.full_like(out[:, :1], BOS), out[:, :-1]], 1)
        logits = model(images, tgt_in)
        live = ((out == EOS).long().cumsum(1) - (out == EOS).long()) == 0
        assert torch.equal(logits.argmax(-1)[live], out[live])
        beam = model.generate(images, max_len=7, beam_size=3)
        for row in range(4):
            alone = model.generate(images[row : row + 1], max_len=7, beam_size=3)[0]
            assert torch.equal(alone, beam[row, : alone.shape[0]])


def test_video_captioner_attends_over_real_frames_only():
    torch.manual_seed(0)
    frames = rkp.RecurrentEncoder(rk.GRU(5, 6))  # per-frame features (B, T, 5) -> Encoding
    decoder = rkp.RecurrentDecoder(12, 8, 16, context_size=6, attention="luong", memory_size=6)
    model = rkp.ConditionedGenerator(frames, decoder, bos_id=BOS, eos_id=EOS, pad_id=PAD).eval()
    video = torch.randn(3, 7, 5)
    lengths = torch.tensor([7, 3, 5])
    with torch.no_grad():
        out, weights = model.generate(video, lengths, max_len=5, return_attention=True)
        padded = video.clone()
        padded[1, 3:] = 100.0
        assert torch.equal(model.generate(padded, lengths, max_len=5), out)
    assert (weights[1, :, 3:] == 0).all() and (weights[2, :, 5:] == 0).all()


def test_a_set_context_with_lengths_is_masked_in_attention_and_in_the_initial_vector():
    torch.manual_seed(0)
    decoder = rkp.RecurrentDecoder(12, 8, 16, context_size=6, attention="luong", memory_size=6)
    model = rkp.ConditionedGenerator(Regions(), decoder, bos_id=BOS, eos_id=EOS, pad_id=PAD)
    regions = torch.randn(2, 5, 6)
    encoding = model.encode(regions, torch.tensor([5, 2]))
    assert torch.allclose(encoding.context[1], regions[1, :2].mean(0))
    assert encoding.mask.tolist()[1] == [True, True, False, False, False]


def test_conditioned_generator_learns_a_caption_per_image_class(single_thread):
    """Four image classes (a bright quadrant), each with its own 4-token caption."""
    torch.manual_seed(0)
    captions = torch.tensor([[3, 4, 5, EOS], [6, 7, 8, EOS], [9, 10, 11, EOS], [5, 9, 3, EOS]])

    def data(rows, generator):
        labels = torch.randint(0, 4, (rows,), generator=generator)
        images = torch.randn(rows, 1, 8, 8, generator=generator) * 0.3
        for row, label in enumerate(labels.tolist()):
            r, c = divmod(label, 2)
            images[row, 0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 2.0
        target = captions[labels]
        tgt_in = torch.cat([torch.full((rows, 1), BOS), target[:, :-1]], 1)
        return images, tgt_in, target

    model = captioner(grid=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    generator = torch.Generator().manual_seed(0)
    for _ in range(120):
        images, tgt_in, target = data(32, generator)
        loss = F.cross_entropy(model(images, tgt_in).transpose(1, 2), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    images, _, target = data(200, torch.Generator().manual_seed(1))
    out = model.eval().generate(images, max_len=6)
    assert out.shape[1] == 4
    assert (out == target).all(1).float().mean().item() >= 0.98
