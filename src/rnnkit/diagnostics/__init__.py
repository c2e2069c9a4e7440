"""Tier 5: diagnostics. Measure what the lecture derives about recurrent networks.

* :func:`gradient_flow`: ``||dL/dh_t||`` at every step of every layer (BPTT, measured), with the
  spectral radius of every recurrent matrix; :func:`plot_gradient_flow` draws both.
* :func:`draw_unrolled`: the unfolded computational graph of a cell, as a PNG or SVG figure.
* :func:`plot_attention`: attention heatmaps of a Seq2Seq model (which source step each output
  step read).

See docs/diagnostics.md.
"""

from .attention import plot_attention
from .flow import GradientFlow, LayerFlow, gradient_flow, last_output_loss
from .plots import plot_gradient_flow
from .spectral import spectral_radii, spectral_radius
from .unrolled import draw_unrolled

__all__ = [
    "GradientFlow",
    "LayerFlow",
    "draw_unrolled",
    "gradient_flow",
    "last_output_loss",
    "plot_attention",
    "plot_gradient_flow",
    "spectral_radii",
    "spectral_radius",
]
