"""Progress bars: tqdm.auto (a widget in Jupyter, text in a terminal), off on request."""

from __future__ import annotations

import os
from typing import Iterable, Optional


def progress_bar(iterable: Optional[Iterable] = None, enabled: bool = True, **kwargs):
    """A ``tqdm.auto`` bar over ``iterable``; none when ``enabled`` is False or ``TQDM_DISABLE=1`` is set.

    ``scripts/run_notebooks.py`` sets ``TQDM_DISABLE=1`` so that saved notebooks hold no half-drawn bars.
    """
    from tqdm.auto import tqdm  # imported here so that importing nasedu stays light

    return tqdm(iterable, disable=not enabled or os.environ.get("TQDM_DISABLE") == "1", **kwargs)
