"""`python -m bench [--quick] [--only 1,3] [--scale F] [--keep]`: run the seven benchmarks
(bench/README.md).

Each benchmark prints its table; bench/results.json (every figure) and bench/results.md (the
README table, with date and machine) are rewritten after each one, so an interrupted run still
leaves what it measured. A missed target is printed as MISSED; the exit status is 0 regardless,
unless a benchmark crashed (status 1), since these are measurements, not tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
import time
import traceback

from bench.common import (
    BenchResult,
    Config,
    load_average,
    machine_description,
    print_table,
    write_results,
)

MODULES = {
    1: "bench.b1_envelope",
    2: "bench.b2_gpg",
    3: "bench.b3_upload",
    4: "bench.b4_pages",
    5: "bench.b5_logins",
    6: "bench.b6_console",
    7: "bench.b7_rendition",
}
BUDGET_SECONDS = 15 * 60


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and short load runs (a smoke run, about 3 minutes)",
    )
    parser.add_argument("--only", default="", help="comma-separated benchmark numbers, e.g. 1,3")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="scale the benchmarks' sizes (default 1.0 = full size)",
    )
    parser.add_argument("--keep", action="store_true", help="keep temporary directories")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = Config(quick=args.quick, scale=args.scale, keep=args.keep)
    wanted = [int(n) for n in args.only.split(",") if n.strip()] or list(MODULES)
    started = time.perf_counter()
    when = dt.datetime.now(dt.UTC)
    mode = (
        "quick sizes (--quick)"
        if args.quick
        else "full sizes"
        if args.scale == 1.0
        else f"sizes scaled by {args.scale:g}"
    )
    print(f"WBS drop box benchmarks, {when:%Y-%m-%d %H:%M} UTC, {machine_description()}")
    load_at_start = load_average()
    print(f"mode: {mode}; load average at start: {load_at_start}")
    results: list[BenchResult] = []
    crashed = False
    for number in wanted:
        module = importlib.import_module(MODULES[number])
        print(f"\n-- running {number}. {module.TITLE} (load {load_average()})", flush=True)
        start = time.perf_counter()
        try:
            result: BenchResult = module.run(config)
        except Exception as exc:  # noqa: BLE001 - report, continue with the next benchmark
            traceback.print_exc()
            result = BenchResult(
                number, module.TITLE, skipped=f"crashed: {type(exc).__name__}: {exc}"
            )
            crashed = True
        result.seconds = time.perf_counter() - start
        results.append(result)
        print_table(result)
        elapsed = time.perf_counter() - started
        header = {
            "date": f"{when:%Y-%m-%d}",
            "machine": machine_description(),
            "mode": mode,
            "total": f"{elapsed / 60:.1f} min for benchmark(s) "
            + ",".join(str(r.number) for r in results)
            + f"; load average at start {load_at_start}, at the end {load_average()}",
        }
        write_results(results, header)
    total = time.perf_counter() - started
    missed = [(r.number, f.name) for r in results for f in r.figures if f.met is False]
    met = sum(1 for r in results for f in r.figures if f.met)
    print(
        f"\nTotal {total / 60:.1f} min ({total:.0f} s); budget 15 min "
        f"{'kept' if total <= BUDGET_SECONDS else 'EXCEEDED'}; load average now {load_average()}"
    )
    print(f"targets met: {met}; MISSED: {len(missed)}")
    for number, name in missed:
        print(f"  MISSED {number}. {name}")
    for result in results:
        if result.skipped:
            print(f"  {result.number}. skipped: {result.skipped}")
    print("results: bench/results.json, README table: bench/results.md")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
