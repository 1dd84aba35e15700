"""Calibration of the headline test under the null, and its power at the paper's effect.

For the paper's design (each image under one method) and the platform's Latin square (each
image under every method), with participant SD 0.8 and image SD 0.5 on the logit scale, many
studies are simulated with no method effect. The share of them in which the headline test
(any pair, Holm-adjusted) rejects at alpha = 0.05 is its false-positive rate, which must lie in
[0.03, 0.07]; the participant-mean Wilcoxon test the report used before is run on the same
studies beside it. Then the headline test's power at the paper's effect (means about
3.66 / 2.87 / 2.85) with 40 participants. Every study is fitted by the full model.

    python bench/bench_calibration.py                # 500 null studies per design, 200 power
    python bench/bench_calibration.py --null 100 --power 50     # a quicker look
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET = (0.03, 0.07)
ALPHA = 0.05
PARTICIPANT_SD, IMAGE_SD = 0.8, 0.5


def one_study(job: tuple[str, tuple[float, ...], int]) -> np.ndarray:
    """Adjusted p of every pair: the headline test's three, then the Wilcoxon test's three."""
    import warnings

    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    from analysis import primary_model, simulate_ratings, validate_ratings

    design, effects, seed = job
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = validate_ratings(
            simulate_ratings(
                participants=40,
                questions=60,
                effects=effects,
                design=design,
                participant_sd=PARTICIPANT_SD,
                question_sd=IMAGE_SD,
                seed=seed,
            )
        )
        headline = primary_model(df).contrasts["p_adjusted"].to_numpy(dtype=float)
        means = df.pivot_table(index="participant", columns="method", values="score", observed=True)
        p = [stats.wilcoxon(means[a], means[b]).pvalue for a, b in combinations(means.columns, 2)]
    return np.r_[headline, multipletests(p, method="holm")[1]]


def rate(values: np.ndarray) -> str:
    from analysis.power import wilson_interval

    k, n = int((values < ALPHA).sum()), len(values)
    low, high = wilson_interval(k / n, n)
    return f"{k / n:.3f} [{low:.3f}, {high:.3f}]"


def main() -> int:
    from analysis.simulate import DEFAULT_EFFECTS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--null", type=int, default=500, help="null studies per design")
    parser.add_argument("--power", type=int, default=200, help="studies for the power figure")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    # One BLAS thread per process: the fits factorise small matrices, and the processes
    # already use every core.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    print(
        f"{args.null} null studies per design, 40 participants x 60 images, participant SD "
        f"{PARTICIPANT_SD}, image SD {IMAGE_SD}; alpha {ALPHA}; target {TARGET}"
    )
    print(f"{'design':<14} {'headline test':<24} {'participant Wilcoxon':<24} {'s/study':>8}")
    ok = True
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for design in ("nested", "latin_square"):
            start = time.perf_counter()
            jobs = [(design, (0.0, 0.0, 0.0), 1_000 + i) for i in range(args.null)]
            result = np.array(list(pool.map(one_study, jobs, chunksize=4)))
            per = (time.perf_counter() - start) * args.workers / args.null
            # Any pair rejected: the family-wise error under the complete null.
            headline, wilcoxon = result[:, :3].min(axis=1), result[:, 3:].min(axis=1)
            ok &= TARGET[0] <= (headline < ALPHA).mean() <= TARGET[1]
            print(f"{design:<14} {rate(headline):<24} {rate(wilcoxon):<24} {per:>8.2f}")
        print(
            f"power at the paper's effect {DEFAULT_EFFECTS} (ProtoPool against each other "
            "method, both pairs rejected), 40 participants, 60 images:"
        )
        for design in ("nested", "latin_square"):
            jobs = [(design, DEFAULT_EFFECTS, 50_000 + i) for i in range(args.power)]
            result = np.array(list(pool.map(one_study, jobs, chunksize=4)))
            headline, wilcoxon = result[:, :2].max(axis=1), result[:, 3:5].max(axis=1)
            print(f"{design:<14} {rate(headline):<24} {rate(wilcoxon):<24}")
    print("calibrated" if ok else "NOT calibrated: a false-positive rate lies outside the target")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
