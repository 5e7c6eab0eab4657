"""Offline agent assistant for public-sector contact centers.

Importing this package is cheap: no torch, faiss, ctranslate2 or model is loaded here.
Heavy libraries are imported inside the functions that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"
