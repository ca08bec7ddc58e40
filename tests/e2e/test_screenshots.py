"""``save_screenshot``'s change test (``tests/e2e/screenshots.py``) on real PNG bytes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.e2e.screenshots import differs


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def test_a_few_anti_aliased_pixels_are_no_change_but_a_new_block_is():
    page = np.full((200, 300, 3), 240, dtype=np.uint8)
    page[50:70, 20:200] = 30  # a line of "text"
    jitter = page.copy()
    jitter[50, 20:80] = 90  # 60 pixels re-anti-aliased: 0.1% of the page
    changed = page.copy()
    changed[120:160, 20:200] = 30  # a new message bubble
    assert not differs(png(page), png(jitter))
    assert differs(png(page), png(changed))
    assert differs(png(page), png(page[:100]))  # another size
