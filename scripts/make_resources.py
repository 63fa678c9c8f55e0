"""Regenerate the trained artefacts the notebooks load from resource/ (they retrain when these are absent).

    python scripts/make_resources.py            # everything
    python scripts/make_resources.py spos       # only the SPOS supernet

- resource/teaching_spos.pt: the teaching-space supernet trained by SPOS on Fashion-MNIST
  (the recipe is TEACHING_SPOS below; the checkpoint records it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nasedu as nd

RESOURCE = Path(__file__).resolve().parents[1] / "resource"
TEACHING_DATA = dict(name="fashion-mnist", val_size=5000, seed=0)  # the notebooks load the same splits
TEACHING_SPOS = nd.spos.SPOSConfig(epochs=8, batch_size=128, lr=0.1, seed=0)


def make_spos() -> None:
    """Train the teaching supernet (about 2 minutes on an idle 2-core CPU)."""
    path = RESOURCE / "teaching_spos.pt"
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    trainer = nd.spos.load_or_train(path, nd.spaces.get("teaching"), nd.data.load(**TEACHING_DATA), TEACHING_SPOS)
    print(f"{path}: {trainer.history[-1]}, {time.perf_counter() - start:.0f} s")


MAKERS = {"spos": make_spos}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(MAKERS):
        MAKERS[name]()
