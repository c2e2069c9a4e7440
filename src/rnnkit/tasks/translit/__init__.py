"""Machine transliteration: grapheme to phoneme on the CMU Pronouncing Dictionary."""

from .task import TranslitConfig, TranslitTask

__all__ = ["TranslitConfig", "TranslitTask"]
