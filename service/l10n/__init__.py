"""Localization: resource file formats and the text rules around translation."""

from __future__ import annotations
