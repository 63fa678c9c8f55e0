"""Regenerate the trained artefacts the notebooks load from resource/ (they retrain when these are absent).

    python scripts/make_resources.py            # everything
    python scripts/make_resources.py spos       # only the SPOS supernet

- resource/teaching_spos.pt: the teaching-space supernet trained by SPOS on Fashion-MNIST
  (the recipe is TEACHING_SPOS below; the checkpoint records it). Notebooks 02, 05-08.
- resource/teaching_spos_fair.pt: the same supernet trained with fair (FairNAS) sampling, with 1.5
  times its compute (TEACHING_SPOS_FAIR). Notebook 07 compares the two rankings with the truth.
- resource/teaching_darts.pt: a DARTS search (softmax relaxation, no hardware loss) with its
  alpha history. Notebook 03.
- resource/teaching_dnas_budget.pt: the DARTS search again, now with a hinge hardware loss on
  a MACs budget (BUDGET_FRACTION of the way from the cheapest to the dearest arch).
  Notebook 07 compares its arch with SPOS's under the same budget.
- resource/teaching_lambda_sweep.json: DNAS with the additive hardware loss for several
  lambdas from one warmed-up supernet: the derived arch, its MACs and the alpha history of
  each. Notebook 04.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import nasedu as nd

RESOURCE = Path(__file__).resolve().parents[1] / "resource"
TEACHING_DATA = dict(name="fashion-mnist", val_size=5000, seed=0)  # the notebooks load the same splits
TEACHING_SPOS = nd.spos.SPOSConfig(epochs=8, batch_size=128, lr=0.1, seed=0)
# A fair step trains 4 paths, so 3 fair epochs cost about as much as 12 uniform ones (~2 minutes here).
TEACHING_SPOS_FAIR = dataclasses.replace(TEACHING_SPOS, sampler="fair", epochs=3)
DNAS_DATA = dict(name="fashion-mnist", train_size=10000, val_size=5000, seed=0)  # alpha learns on the 5000
SWEEP_DATA = dict(name="fashion-mnist", train_size=5000, val_size=2500, seed=0)
# DARTS's alpha learning rate is 3e-4 over ~20k steps; these runs take ~1.5k, so alpha moves 10x faster.
TEACHING_DARTS = nd.dnas.preset("darts", epochs=10, warmup_epochs=2, alpha_lr=3e-3, seed=0)
BUDGET_FRACTION = 0.4  # notebooks 06 and 07 search under this MACs budget


def macs_budget(fraction: float = BUDGET_FRACTION) -> float:
    """A MACs budget ``fraction`` of the way from the teaching space's cheapest arch to its dearest."""
    macs = nd.hardware.lookup_table(nd.spaces.get("teaching"), "macs")
    return macs.min_cost() + fraction * (macs.max_cost() - macs.min_cost())


TEACHING_DNAS_BUDGET = dataclasses.replace(TEACHING_DARTS, hardware_loss="hinge", hardware_weight=1.0,
                                           budget=macs_budget())
SWEEP_WARMUP = nd.dnas.preset("darts", epochs=2, warmup_epochs=2, seed=0)  # weights only
SWEEP_SEARCH = nd.dnas.DNASConfig(epochs=3, alpha_lr=3e-3, hardware_loss="additive", seed=0)
SWEEP_LAMBDAS = (0.0, 0.3, 1.0, 3.0)


def train_supernet(name: str, config: nd.spos.SPOSConfig) -> None:
    """Train a teaching supernet with ``config`` into resource/``name``."""
    path = RESOURCE / name
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    trainer = nd.spos.load_or_train(path, nd.spaces.get("teaching"), nd.data.load(**TEACHING_DATA), config)
    print(f"{path}: {trainer.log[-1]}, {time.perf_counter() - start:.0f} s")


def make_spos() -> None:
    """Train the teaching supernet (about 1.5 minutes on an idle 2-core CPU)."""
    train_supernet("teaching_spos.pt", TEACHING_SPOS)


def make_spos_fair() -> None:
    """Train the teaching supernet with fair sampling (about 2 minutes on an idle 2-core CPU)."""
    train_supernet("teaching_spos_fair.pt", TEACHING_SPOS_FAIR)


def make_darts() -> None:
    """A DARTS search on the teaching space (a few minutes on an idle 2-core CPU)."""
    path = RESOURCE / "teaching_darts.pt"
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    trainer = nd.dnas.load_or_train(path, nd.spaces.get("teaching"), nd.data.load(**DNAS_DATA), TEACHING_DARTS)
    print(f"{path}: {trainer.derive().readable}, {time.perf_counter() - start:.0f} s")


def make_dnas_budget() -> None:
    """DARTS with a hinge loss on the MACs budget (a few minutes on an idle 2-core CPU)."""
    path = RESOURCE / "teaching_dnas_budget.pt"
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    space = nd.spaces.get("teaching")
    trainer = nd.dnas.load_or_train(path, space, nd.data.load(**DNAS_DATA), TEACHING_DNAS_BUDGET,
                                    nd.hardware.lookup_table(space, "macs"))
    print(f"{path}: {trainer.derive().readable}, {time.perf_counter() - start:.0f} s")


def make_sweep() -> None:
    """DNAS for each lambda of SWEEP_LAMBDAS, from one warmed-up supernet (about 5 minutes)."""
    space, splits = nd.spaces.get("teaching"), nd.data.load(**SWEEP_DATA)
    macs = nd.hardware.lookup_table(space, "macs")
    start = time.perf_counter()
    warm = nd.dnas.DNASTrainer(nd.Supernet(space), splits, SWEEP_WARMUP, macs)
    warm.fit()
    sweep = nd.dnas.lambda_sweep(warm.supernet, splits, SWEEP_LAMBDAS, SWEEP_SEARCH, macs)
    path = RESOURCE / "teaching_lambda_sweep.json"
    recipe = {"data": SWEEP_DATA, "warmup_epochs": SWEEP_WARMUP.epochs, **dataclasses.asdict(SWEEP_SEARCH)}
    path.write_text(json.dumps({"recipe": recipe, "metric": "macs", "sweep": sweep}))
    print(f"{path}: {[r['cost'] for r in sweep]}, {time.perf_counter() - start:.0f} s")


MAKERS = {"spos": make_spos, "spos_fair": make_spos_fair, "darts": make_darts, "dnas_budget": make_dnas_budget,
          "sweep": make_sweep}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(MAKERS):
        MAKERS[name]()
