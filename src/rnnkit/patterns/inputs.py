"""What a pattern puts in front of its recurrent layer: an embedding or a feature extractor."""

from __future__ import annotations

from torch import Tensor, nn


def make_input_module(embedding, owner: str) -> nn.Module | None:
    """``None`` (the input is already ``(B, T, F)`` features), an ``nn.Module`` (an ``nn.Embedding``
    for token ids, or any feature extractor mapping the input to ``(B, T, F)``), or a pair
    ``(vocab_size, embed_dim)`` for a fresh ``nn.Embedding``."""
    if embedding is None or isinstance(embedding, nn.Module):
        return embedding
    if (
        isinstance(embedding, tuple)
        and len(embedding) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in embedding)
    ):
        return nn.Embedding(*embedding)
    raise TypeError(
        f"{owner}: embedding must be None, an nn.Module (nn.Embedding or a feature extractor) or "
        f"a pair (vocab_size, embed_dim) of positive ints, got {embedding!r}"
    )


def apply_input_module(module: nn.Module | None, x: Tensor, owner: str) -> Tensor:
    """Token ids through the embedding, or raw inputs through the feature extractor."""
    if isinstance(module, nn.Embedding):
        if x.dtype.is_floating_point or x.dim() != 2:
            raise ValueError(
                f"{owner}: with an embedding, x must be integer token ids of shape (B, T), "
                f"got {x.dtype} {tuple(x.shape)}"
            )
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= module.num_embeddings):
            raise ValueError(
                f"{owner}: token ids must lie in [0, {module.num_embeddings}), "
                f"got min {int(x.min())} max {int(x.max())}"
            )
    return x if module is None else module(x)
