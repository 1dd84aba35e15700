"""Benchmark the full analysis report at the paper's size and at a million answers.

Each repetition runs in a fresh interpreter, so that its first report is really cold and the
peak resident memory printed is that case's own. A figure is the median of ``--repeats``
repetitions after ``--warmup`` untimed ones, with its min-max: one slow run on a shared machine
does not decide it. Targets: 2,400 answers <= 2 s, 1,000,000 answers <= 60 s, memory <= 2 GB.

    python bench/bench_analysis.py            # every case
    python bench/bench_analysis.py --only paper --profile
    python bench/bench_analysis.py --only paper --repeats 1 --warmup 0   # check the code path
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# name: (participants, questions, target seconds). The paper's study; a million answers with
# many of both (the hardest case for the crossed mixed model); a million answers from the
# paper's 60-question design answered by many more participants.
CASES = {
    "paper": (40, 60, 2.0),
    "1M-square": (1000, 1000, 60.0),
    "1M-tall": (16_667, 60, 60.0),
}
TARGET_MB = 2048.0


def spread(values: Sequence[float], digits: int = 2) -> str:
    """``median (min–max)`` of ``values``, each with ``digits`` decimals."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def run_one(case: str, profile: bool) -> dict[str, float]:
    """Simulate, write the CSV, then time the report from the CSV (loading included)."""
    import analysis
    from analysis.report import ReportConfig, run_report

    participants, questions, _ = CASES[case]
    frame = analysis.simulate_ratings(
        participants=participants, questions=questions, careless_fraction=0.05, seed=1
    )
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "ratings.csv"
        frame.to_csv(csv, index=False)
        del frame
        timings = []
        # The first run pays for lazy imports (matplotlib backends, statsmodels parts); the
        # second is what a long-running web worker sees.
        for run in range(2):
            if profile and run == 1:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
            start = time.perf_counter()
            run_report(csv, Path(tmp) / f"out{run}", ReportConfig())
            timings.append(time.perf_counter() - start)
        if profile:
            prof.disable()
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Peak memory includes simulating and writing the table before the timed part.
    return {
        "answers": participants * questions,
        "cold_s": timings[0],
        "warm_s": timings[1],
        "peak_mb": peak_mb,
    }


def run_child(name: str, profile: bool) -> dict[str, float]:
    """One repetition of case ``name`` in a fresh interpreter."""
    cmd = [sys.executable, __file__, "--child", "--only", name]
    if profile:
        cmd.append("--profile")
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_case(name: str, repeats: int, warmup: int, profile: bool) -> list[dict[str, float]]:
    """The timed repetitions of case ``name``; warm-up runs warm the disk cache and are dropped."""
    for _ in range(warmup):
        run_child(name, profile=False)
    results = [run_child(name, profile=False) for _ in range(repeats)]
    if profile:
        # Profiling slows the run down, so the profiled one is extra and left out of the figures.
        run_child(name, profile=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(CASES), default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.only, args.profile)))
        return
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be at least 1 and --warmup at least 0")
    cases = [args.only] if args.only else list(CASES)
    print(
        f"median of {args.repeats} repetitions after {args.warmup} warm-up, min–max in brackets; "
        "ratio is median cold s / target; peak MB is the largest repetition's"
    )
    print(
        f"{'case':>10} {'answers':>10} {'cold s':>20} {'warm s':>20} {'target':>7} "
        f"{'ratio':>6} {'peak MB':>8}"
    )
    for name in cases:
        results = run_case(name, args.repeats, args.warmup, args.profile)
        cold = [r["cold_s"] for r in results]
        target = CASES[name][2]
        print(
            f"{name:>10} {results[0]['answers']:>10,.0f} {spread(cold):>20} "
            f"{spread([r['warm_s'] for r in results]):>20} {target:>7.0f} "
            f"{statistics.median(cold) / target:>6.2f} "
            f"{max(r['peak_mb'] for r in results):>8.0f}  "
            f"(memory target {TARGET_MB:.0f} MB)"
        )


if __name__ == "__main__":
    main()
