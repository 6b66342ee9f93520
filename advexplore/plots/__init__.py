"""Plotting layer: functions that turn computed tensors into plotly figures and return
them. No widgets here and no training: the caller computes, these functions draw."""
from .style import PALETTE, apply_style

__all__ = ["PALETTE", "apply_style"]
