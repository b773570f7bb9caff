"""Paired timing for the layer benchmarks: a case and its peer take turns in the same process.

Each run alternates the two (which goes first alternates too) for a number of rounds and keeps the
median of the per-round time ratios, which a shared machine's changing load disturbs far less than
the times themselves. Several runs give a median ratio and its range (min–max).

Fairness: both sides get one thread. `one_thread()` sets TensorFlow's intra- and inter-op pools to
one thread (before TF runs anything) and, when torch is imported, torch's too.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


def one_thread() -> None:
    """One intra-op and one inter-op thread for TensorFlow (and torch, if it is installed)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


def _time_ms(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) * 1e3 / calls


@dataclass
class Pair:
    """Medians over runs of (ours ms, peer ms, ratio) and the range of the per-run ratios."""

    ms: float
    peer_ms: float
    ratio: float
    low: float
    high: float


def paired(
    fn: Callable[[], object],
    peer: Callable[[], object],
    *,
    runs: int = 3,
    rounds: int = 7,
    calls: int = 2,
    warmup: int = 2,
) -> Pair:
    """Time `fn` against `peer`: `runs` runs of `rounds` alternating rounds of `calls` calls."""
    for _ in range(warmup):
        fn()
        peer()
    per_run = []
    for _ in range(runs):
        ours, theirs, ratios = [], [], []
        for round_index in range(rounds):
            if round_index % 2 == 0:
                a = _time_ms(fn, calls)
                b = _time_ms(peer, calls)
            else:
                b = _time_ms(peer, calls)
                a = _time_ms(fn, calls)
            ours.append(a)
            theirs.append(b)
            ratios.append(a / b)
        per_run.append(
            (statistics.median(ours), statistics.median(theirs), statistics.median(ratios))
        )
    ms, peer_ms, ratios = zip(*per_run, strict=True)
    return Pair(
        statistics.median(ms),
        statistics.median(peer_ms),
        statistics.median(ratios),
        min(ratios),
        max(ratios),
    )


def table(rows: list[tuple[str, str, Pair, str]], runs: int, rounds: int) -> str:
    """Markdown: case, ours, peer, ratio (median of `runs` runs and range), goal."""
    lines = [
        f"| case | ms | peer | peer ms | ratio, median of {runs} runs (range) | goal |",
        "|---|---:|---|---:|---:|---|",
    ]
    for name, peer_name, pair, goal in rows:
        lines.append(
            f"| {name} | {pair.ms:.2f} | {peer_name} | {pair.peer_ms:.2f} | "
            f"{pair.ratio:.2f}x ({pair.low:.2f}–{pair.high:.2f}) | {goal} |"
        )
    lines.append(
        f"\n{rounds} alternating rounds per run; one intra-op and one inter-op thread for "
        "TensorFlow, one thread for torch; float32."
    )
    return "\n".join(lines)


def parse_args(doc: str, rounds: int) -> argparse.Namespace:
    """--runs and --rounds of a bench script (its docstring's first line as the description)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs (median and range over them)")
    parser.add_argument("--rounds", type=int, default=rounds, help="alternating rounds per run")
    return parser.parse_args()
