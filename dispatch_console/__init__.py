"""Dispatch Console: live school cameras for police dispatch, only under an emergency grant."""

__version__ = "0.1.0"
