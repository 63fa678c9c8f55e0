"""Regenerate the trained artefacts the notebooks load from resource/ (they retrain when these are absent).

    python scripts/make_resources.py            # everything
    python scripts/make_resources.py spos       # only the SPOS supernet

- resource/teaching_spos.pt: the teaching-space supernet trained by SPOS on Fashion-MNIST
  (the recipe is TEACHING_SPOS below; the checkpoint records it). Notebooks 02, 05-08.
- resource/teaching_spos_fair.pt: the same supernet trained with fair (FairNAS) sampling, the K
  paths' gradients summed into one update, with 1.5 times its compute (TEACHING_SPOS_FAIR).
  Notebook 07 compares the two rankings with the truth.
- resource/teaching_darts.pt: DARTS with its paper's alpha optimiser, the alpha learning rate scaled
  so that alpha may travel as far in our 1,248 steps as in the paper's ~19,500; with its alpha
  history. Notebook 03.
- resource/teaching_darts_long.pt: DARTS for 30 epochs with a fast alpha, long enough for skips to
  take over; after every epoch its log records the arch chosen by perturbation (Wang et al. 2021).
  Notebook 03's collapse section.
- resource/teaching_dnas_budget.pt: ProxylessNAS with a hinge hardware loss on a MACs budget
  (BUDGET_FRACTION of the way from the cheapest to the dearest arch). Notebook 07 compares its arch
  with SPOS's under the same budget.
- resource/teaching_lambda_sweep.json: ProxylessNAS with its additive hardware loss for several
  lambdas from one warmed-up supernet: the derived arch, its MACs and the alpha history of each.
  Notebook 04.
- resource/teaching_methods.json is made by scripts/compare_methods.py.
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
BUDGET_FRACTION = 0.4  # notebooks 06 and 07 search under this MACs budget


def macs_budget(fraction: float = BUDGET_FRACTION) -> float:
    """A MACs budget ``fraction`` of the way from the teaching space's cheapest arch to its dearest."""
    macs = nd.hardware.lookup_table(nd.spaces.get("teaching"), "macs")
    return macs.min_cost() + fraction * (macs.max_cost() - macs.min_cost())


# The course's DNAS runs: 2 weights-only epochs, then 8 search epochs of 156 steps = 1,248 alpha steps.
# Adam moves a logit by about its learning rate per step, so lr x 1,248 bounds how far alpha can go; a
# layer has decided (p >= 0.7 of 4) at a logit gap of ln 7 = 1.9, and sampled gradients (Gumbel noise,
# sampled paths) disagree in sign from step to step, so each run gets several times that (lr x steps
# = 12 to 37). Temperatures follow each paper's schedule compressed to the 8 search epochs.
DNAS_EPOCHS, DNAS_WARMUP = 10, 2
TEACHING_METHODS = {
    "darts": nd.dnas.preset("darts", epochs=DNAS_EPOCHS, warmup_epochs=DNAS_WARMUP, alpha_lr=1e-2, seed=0),
    # FBNet's own lr; its tau 5.0 x exp(-0.045) per epoch ends at 0.09 after 90 epochs: the same end in 8
    "fbnet": nd.dnas.preset("fbnet", epochs=DNAS_EPOCHS, warmup_epochs=DNAS_WARMUP, temperature_decay=0.5, seed=0),
    "gdas": nd.dnas.preset("gdas", epochs=DNAS_EPOCHS, warmup_epochs=DNAS_WARMUP, alpha_lr=3e-2, seed=0),
    # GDAS's forward with every gate's straight-through gradient (the course's GDAS before it was named apart)
    "gdas_all_gates": nd.dnas.preset("gdas_all_gates", epochs=DNAS_EPOCHS, warmup_epochs=DNAS_WARMUP, alpha_lr=3e-2,
                                     seed=0),
    "proxylessnas": nd.dnas.preset("proxylessnas", epochs=DNAS_EPOCHS, warmup_epochs=DNAS_WARMUP, alpha_lr=3e-2,
                                   seed=0),
}
HINGE_WEIGHT = 1.0  # lambda of the hinge loss: one unit of cross-entropy per 100% over the budget


def budget_config(config: nd.dnas.DNASConfig, fraction: float = BUDGET_FRACTION) -> nd.dnas.DNASConfig:
    """``config`` with a hinge loss on the MACs budget instead of its own hardware loss."""
    return dataclasses.replace(config, hardware_loss="hinge", hardware_weight=HINGE_WEIGHT,
                               budget=macs_budget(fraction))


# DARTS's paper moves alpha by at most 3e-4 x 19,500 steps = 5.9; the same budget over our 1,248 steps
TEACHING_DARTS = dataclasses.replace(TEACHING_METHODS["darts"], alpha_lr=5e-3)
DARTS_LONG = nd.dnas.preset("darts", epochs=30, warmup_epochs=0, alpha_lr=3e-2, seed=0)  # long enough to collapse
TEACHING_DNAS_BUDGET = budget_config(TEACHING_METHODS["proxylessnas"])
SWEEP_WARMUP = dataclasses.replace(TEACHING_METHODS["proxylessnas"], epochs=DNAS_WARMUP)  # weights only
SWEEP_SEARCH = dataclasses.replace(TEACHING_METHODS["proxylessnas"], epochs=DNAS_EPOCHS - DNAS_WARMUP,
                                   warmup_epochs=0)
SWEEP_LAMBDAS = (0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)


def train_supernet(name: str, config: nd.spos.SPOSConfig) -> None:
    """Train a teaching supernet with ``config`` into resource/``name``."""
    path = RESOURCE / name
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    trainer = nd.spos.load_or_train(path, nd.spaces.get("teaching"), nd.data.load(**TEACHING_DATA), config)
    print(f"{path}: {trainer.log[-1]}, {time.perf_counter() - start:.0f} s")


def search(name: str, config: nd.dnas.DNASConfig, on_epoch=None) -> None:
    """A DNAS run on the teaching space with ``config`` into resource/``name`` (and its history beside it)."""
    path = RESOURCE / name
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    space = nd.spaces.get("teaching")
    trainer = nd.dnas.DNASTrainer(nd.Supernet(space, seed=config.seed), nd.data.load(**DNAS_DATA), config,
                                  nd.hardware.lookup_table(space, "macs"), checkpoint_path=path)
    trainer.fit(on_epoch=on_epoch)
    derived = trainer.derive()
    print(f"{path}: {derived.readable}, mean max-probability {sum(derived.probs) / 4:.2f}, "
          f"{time.perf_counter() - start:.0f} s")


def make_spos() -> None:
    """Train the teaching supernet (about 1.5 minutes on an idle 2-core CPU)."""
    train_supernet("teaching_spos.pt", TEACHING_SPOS)


def make_spos_fair() -> None:
    """Train the teaching supernet with fair sampling (about 2 minutes on an idle 2-core CPU)."""
    train_supernet("teaching_spos_fair.pt", TEACHING_SPOS_FAIR)


def make_darts() -> None:
    """DARTS with its paper's alpha budget scaled to ours (about 1.5 minutes)."""
    search("teaching_darts.pt", TEACHING_DARTS)


def make_darts_long() -> None:
    """DARTS for 30 epochs with a fast alpha, perturbation selection after each epoch (about 6 minutes)."""
    search("teaching_darts_long.pt", DARTS_LONG, on_epoch=nd.dnas.record_perturbation_choice)


def make_dnas_budget() -> None:
    """ProxylessNAS with a hinge loss on the MACs budget (about a minute)."""
    search("teaching_dnas_budget.pt", TEACHING_DNAS_BUDGET)


def make_sweep() -> None:
    """ProxylessNAS for each lambda of SWEEP_LAMBDAS, from one warmed-up supernet (about 8 minutes)."""
    space, splits = nd.spaces.get("teaching"), nd.data.load(**DNAS_DATA)
    macs = nd.hardware.lookup_table(space, "macs")
    start = time.perf_counter()
    warm = nd.dnas.DNASTrainer(nd.Supernet(space, seed=SWEEP_WARMUP.seed), splits, SWEEP_WARMUP, macs)
    warm.fit()
    sweep = nd.dnas.lambda_sweep(warm.supernet, splits, SWEEP_LAMBDAS, SWEEP_SEARCH, macs)
    path = RESOURCE / "teaching_lambda_sweep.json"
    recipe = {"data": DNAS_DATA, "warmup_epochs": SWEEP_WARMUP.epochs, **dataclasses.asdict(SWEEP_SEARCH)}
    text = json.dumps({"recipe": recipe, "metric": "macs", "sweep": sweep})
    nd.checkpoint.atomic_write(path, lambda f: f.write(text), mode="w")
    print(f"{path}: {[r['cost'] for r in sweep]}, {time.perf_counter() - start:.0f} s")


MAKERS = {"spos": make_spos, "spos_fair": make_spos_fair, "darts": make_darts, "darts_long": make_darts_long,
          "dnas_budget": make_dnas_budget, "sweep": make_sweep}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(MAKERS):
        MAKERS[name]()
