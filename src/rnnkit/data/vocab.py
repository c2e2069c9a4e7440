"""A vocabulary: the two-way map between tokens (strings) and integer ids.

Special tokens come first, in the fixed order pad, bos, eos, unk, so that with the defaults
``pad_id == 0``, ``bos_id == 1``, ``eos_id == 2`` and ``unk_id == 3``. Any special can be
switched off by passing ``None``; the remaining specials then take the first ids, in the same
order. Ordinary tokens follow.

A vocabulary is saved as a plain JSON-compatible dict (``to_json``/``from_json``) so that a
checkpoint never needs pickle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

# The order of the specials is part of the contract: it fixes their ids.
SPECIAL_ROLES = ("pad", "bos", "eos", "unk")
DEFAULT_SPECIALS = {"pad": "<pad>", "bos": "<bos>", "eos": "<eos>", "unk": "<unk>"}

_JSON_FORMAT = "rnnkit.vocab"
_JSON_VERSION = 1


class Vocab:
    """Tokens <-> ids with reserved special tokens.

    Args:
        tokens: the ordinary tokens, in id order. Duplicates, and tokens equal to an enabled
            special, are an error.
        pad, bos, eos, unk: the strings of the special tokens, or ``None`` to disable one.
            Without ``unk``, encoding an unknown token raises ``ValueError``.
        name: used in error messages (for example ``"graphemes"``), so that a failure says
            which of a model's vocabularies was asked.

    Example:
        >>> v = Vocab.build([["K", "AE", "T"], ["K", "AA", "R"]], name="phonemes")
        >>> v.encode(["K", "AE", "T"], add_eos=True)
        [4, 6, 8, 2]
        >>> v.decode([4, 6, 8, 2, 0, 0])
        ['K', 'AE', 'T']
    """

    def __init__(
        self,
        tokens: Iterable[str] = (),
        *,
        pad: str | None = DEFAULT_SPECIALS["pad"],
        bos: str | None = DEFAULT_SPECIALS["bos"],
        eos: str | None = DEFAULT_SPECIALS["eos"],
        unk: str | None = DEFAULT_SPECIALS["unk"],
        name: str = "vocab",
    ) -> None:
        self.name = name
        self._specials = {
            role: token
            for role, token in zip(SPECIAL_ROLES, (pad, bos, eos, unk), strict=True)
            if token is not None
        }
        self._itos: list[str] = []
        self._stoi: dict[str, int] = {}
        for token in [*self._specials.values(), *tokens]:
            if not isinstance(token, str):
                raise TypeError(
                    f"vocab {name!r}: tokens must be str, got {type(token).__name__} {token!r}"
                )
            if token in self._stoi:
                raise ValueError(
                    f"vocab {name!r}: token {token!r} appears twice "
                    f"(ids {self._stoi[token]} and {len(self._itos)})"
                )
            self._stoi[token] = len(self._itos)
            self._itos.append(token)

    @classmethod
    def build(
        cls,
        sequences: Iterable[Iterable[str]],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        **kwargs: Any,
    ) -> Vocab:
        """Build a vocabulary from token sequences (for example the training split).

        Tokens seen fewer than ``min_freq`` times are left out. Ordinary tokens are ordered by
        decreasing frequency, ties by the token itself, so the result does not depend on the
        order of ``sequences``. ``max_size`` caps the number of ordinary tokens (specials not
        counted). Tokens equal to a special are not counted. ``kwargs`` go to the constructor
        (``pad``, ``bos``, ``eos``, ``unk``, ``name``).
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None, got {max_size}")
        counts: Counter[str] = Counter()
        for seq in sequences:
            counts.update(_check_not_str(seq, "Vocab.build"))
        specials = {kwargs.get(role, DEFAULT_SPECIALS[role]) for role in SPECIAL_ROLES}
        ranked = sorted(
            (tok for tok, n in counts.items() if n >= min_freq and tok not in specials),
            key=lambda tok: (-counts[tok], tok),
        )
        if max_size is not None:
            ranked = ranked[:max_size]
        return cls(ranked, **kwargs)

    # --- lookups -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __iter__(self):
        return iter(self._itos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._itos == other._itos and self._specials == other._specials

    def __repr__(self) -> str:
        return f"Vocab(name={self.name!r}, size={len(self)}, specials={self._specials})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order, specials included (a copy)."""
        return list(self._itos)

    @property
    def specials(self) -> dict[str, str]:
        """The enabled specials, role -> token (a copy)."""
        return dict(self._specials)

    def _special_id(self, role: str) -> int:
        if role not in self._specials:
            raise ValueError(f"vocab {self.name!r} has no {role} token (it was disabled)")
        return self._stoi[self._specials[role]]

    @property
    def pad_id(self) -> int:
        return self._special_id("pad")

    @property
    def bos_id(self) -> int:
        return self._special_id("bos")

    @property
    def eos_id(self) -> int:
        return self._special_id("eos")

    @property
    def unk_id(self) -> int:
        return self._special_id("unk")

    def token_to_id(self, token: str) -> int:
        """The id of ``token``; the unk id for an unknown token, or ValueError without unk."""
        idx = self._stoi.get(token)
        if idx is not None:
            return idx
        if "unk" in self._specials:
            return self._stoi[self._specials["unk"]]
        examples = ", ".join(repr(t) for t in self._itos[len(self._specials) :][:10])
        raise ValueError(
            f"token {token!r} is not in vocab {self.name!r} ({len(self)} tokens, no unk token); "
            f"known tokens include {examples}"
        )

    def id_to_token(self, idx: int) -> str:
        """The token of id ``idx``; ValueError if it is out of range."""
        if not 0 <= idx < len(self._itos):
            raise ValueError(
                f"id {idx} is out of range for vocab {self.name!r} of size {len(self)}"
            )
        return self._itos[idx]

    # --- sequences -----------------------------------------------------------------------------

    def encode(
        self, tokens: Iterable[str], *, add_bos: bool = False, add_eos: bool = False
    ) -> list[int]:
        """Token sequence -> ids, optionally wrapped in bos ... eos."""
        ids = [self.token_to_id(tok) for tok in _check_not_str(tokens, "Vocab.encode")]
        if add_bos:
            ids.insert(0, self.bos_id)
        if add_eos:
            ids.append(self.eos_id)
        return ids

    def decode(self, ids: Iterable[int], *, strip: bool = True) -> list[str]:
        """Ids -> tokens.

        With ``strip`` (the default), decoding stops at the first eos and drops pad and bos, which
        turns a row of model output (bos? tokens eos pad pad ...) back into its tokens. ``unk`` is
        kept: it is a real prediction. ``ids`` may be a list or a 1-D tensor.
        """
        if hasattr(ids, "tolist"):  # a torch tensor or numpy array
            ids = ids.tolist()
        dropped = {self._stoi[self._specials[r]] for r in ("pad", "bos") if r in self._specials}
        eos = self._stoi[self._specials["eos"]] if "eos" in self._specials else None
        out = []
        for idx in ids:
            if strip and idx == eos:
                break
            if strip and idx in dropped:
                continue
            out.append(self.id_to_token(int(idx)))
        return out

    # --- persistence ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict that ``from_json`` turns back into an equal vocabulary."""
        return {
            "format": _JSON_FORMAT,
            "version": _JSON_VERSION,
            "name": self.name,
            "specials": {role: self._specials.get(role) for role in SPECIAL_ROLES},
            "tokens": self._itos[len(self._specials) :],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Vocab:
        """Rebuild a vocabulary from ``to_json``'s dict, checking its shape first."""
        if not isinstance(data, Mapping):
            raise TypeError(f"Vocab.from_json expects a dict, got {type(data).__name__}")
        expected = {"format", "version", "name", "specials", "tokens"}
        if set(data) != expected:
            raise ValueError(
                f"Vocab.from_json: expected keys {sorted(expected)}, got {sorted(data)}"
            )
        if data["format"] != _JSON_FORMAT or data["version"] != _JSON_VERSION:
            raise ValueError(
                f"Vocab.from_json: expected format {_JSON_FORMAT!r} version {_JSON_VERSION}, "
                f"got {data['format']!r} version {data['version']!r}"
            )
        specials = data["specials"]
        if not isinstance(specials, Mapping) or set(specials) != set(SPECIAL_ROLES):
            raise ValueError(
                f"Vocab.from_json: 'specials' must map each of {list(SPECIAL_ROLES)} "
                f"to a token or null, got {specials!r}"
            )
        if not isinstance(data["tokens"], list):
            raise TypeError(
                f"Vocab.from_json: 'tokens' must be a list, got {type(data['tokens']).__name__}"
            )
        return cls(data["tokens"], name=data["name"], **specials)


def _check_not_str(tokens: Iterable[str], where: str) -> Iterable[str]:
    """Refuse a bare string where a token sequence is expected.

    A string is iterable, so "K AE T" would silently be read as the characters K, space, A...;
    asking for ``list(text)`` or ``text.split()`` makes the choice explicit.
    """
    if isinstance(tokens, str):
        raise TypeError(
            f"{where} expects a sequence of tokens, got the string {tokens!r}; "
            "pass list(text) for characters or text.split() for whitespace-separated tokens"
        )
    return tokens
