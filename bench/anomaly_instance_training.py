"""Train `anomaly_universal`'s network with real instances in its training mix (the variant of
`recipe.INSTANCE_MIX`, tried and not shipped; `validation`'s docstring gives its figures).

    python bench/anomaly_instance_training.py DIR
    python bench/anomaly_validation.py --preset-dir DIR

The first trains through the Trainer into the run folder DIR (resumable, about 15 minutes on 2
cores) and writes a preset there; its card also holds the benchmark's figures, as every
`zoo train` card does (a look at the benchmark: read it only after the validation decided). The
second validates it as the shipped preset was validated.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from zoo.models.universal_anomaly.recipe import INSTANCE_MIX, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path, help="the run folder (resumed if it exists)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train(args.output_dir, seed=args.seed, mix=INSTANCE_MIX, verbose=0)
    print(f"preset written to {args.output_dir}")


if __name__ == "__main__":
    main()
