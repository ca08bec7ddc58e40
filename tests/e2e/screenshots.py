"""README screenshots taken by the browser tests, rewritten only when the page changed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page

from bot.config import PROJECT_ROOT

IMG = PROJECT_ROOT / "docs" / "img"
CHANGED_PIXELS = 0.002
"""Share of pixels that must differ (any channel by more than 16 of 255) for a new
screenshot to replace the old one: re-rendering the same page moves a few anti-aliased
pixels, which would otherwise leave every test run with modified files in git."""


def differs(old: bytes, new: bytes) -> bool:
    """Whether two PNG images differ in size or in more than :data:`CHANGED_PIXELS`."""
    a = np.asarray(Image.open(io.BytesIO(old)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(new)).convert("RGB"), dtype=np.int16)
    if a.shape != b.shape:
        return True
    return float(np.mean(np.abs(a - b).max(axis=2) > 16)) > CHANGED_PIXELS


def save_screenshot(page: Page, name: str) -> Path:
    """Screenshot ``page`` to ``docs/img/<name>`` unless the file already shows the same.

    Returns:
        The path of the screenshot.
    """
    IMG.mkdir(parents=True, exist_ok=True)
    path = IMG / name
    new = page.screenshot()
    if not path.exists() or differs(path.read_bytes(), new):
        path.write_bytes(new)
    return path
