"""How fast nlp understands residents: `python bench/nlp_bench.py [--seconds 3] [--check]`.

Prints, for the short messages of tests/data/intents.tsv:
  - classifications per second in one process (target >= 10,000),
  - p50 / p99 / max latency of one classify() call (target p99 < 1 ms),
  - load time of `import nlp; nlp.load()` in a fresh interpreter: OpenCC, the pinyin table,
    jieba and the lexicon (target < 1.5 s; the median of three runs).
With --check the exit status is 1 when a target is missed. Timings depend on the machine and on
what else runs on it, so they are measured here and never asserted in the tests.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nlp  # noqa: E402  (needs ROOT on sys.path)
from nlp import evaluate  # noqa: E402

TARGET_PER_SECOND = 10_000
TARGET_P99_MS = 1.0
TARGET_LOAD_S = 1.5
SHORT = 20  # characters; residents' messages are mostly shorter

LOAD_PROBE = "import time; t = time.perf_counter(); import nlp; nlp.load(); print(time.perf_counter() - t)"


def load_seconds(runs: int = 3) -> list[float]:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", LOAD_PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def throughput(texts: list[str], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text in texts:
            nlp.classify(text)
        done += len(texts)
    return done / (time.perf_counter() - start)


def latencies_ms(texts: list[str], rounds: int) -> list[float]:
    clock = time.perf_counter_ns
    out = []
    for _ in range(rounds):
        for text in texts:
            t = clock()
            nlp.classify(text)
            out.append((clock() - t) / 1e6)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to measure throughput")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    loads = load_seconds()
    nlp.load()
    texts = [t for t, _ in evaluate.read_corpus(ROOT / "tests" / "data" / "intents.tsv") if len(t) <= SHORT]
    for text in texts:  # warm up
        nlp.classify(text)
    gc.collect()
    per_second = throughput(texts, args.seconds)
    lat = latencies_ms(texts, rounds=5)
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    load = statistics.median(loads)

    ok = per_second >= TARGET_PER_SECOND and p99 < TARGET_P99_MS and load < TARGET_LOAD_S
    print(f"nlp benchmark on {len(texts)} short messages (<= {SHORT} characters) from tests/data/intents.tsv")
    print(f"  classifications per second: {per_second:,.0f}  (target >= {TARGET_PER_SECOND:,})")
    print(f"  latency p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {lat[-1]:.3f} ms  (target p99 < {TARGET_P99_MS} ms)")
    print(f"  load (import nlp; nlp.load()) in a fresh process: {load:.2f} s median of "
          f"{', '.join(f'{x:.2f}' for x in loads)}  (target < {TARGET_LOAD_S} s)")
    print("  all targets met" if ok else "  TARGET MISSED")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
