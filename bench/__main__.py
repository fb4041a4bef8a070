"""``python -m bench [--quick] [--only NAME ...] [--out PATH]``: run the benchmarks, print the tables."""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import AREAS
from ._util import Sizes, load_average, machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each: a smoke check in < 30 s")
    parser.add_argument("--only", action="append", choices=AREAS, metavar="NAME",
                        help=f"run only this area (repeatable): {', '.join(AREAS)}")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"where to write the JSON (default {RESULTS})")
    args = parser.parse_args(argv)

    sizes = Sizes.for_mode(args.quick)
    machine = machine_info()
    print(f"# mlmm bench{' (--quick)' if args.quick else ''}")
    print(
        f"Python {machine['python']} on {machine['platform']}; {machine['cpus']} CPUs ({machine['cpu']}); "
        f"temp dir {machine['tmpdir']} ({machine['tmpdir_fs']}); "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    )
    load = machine["loadavg"]
    print(
        "Caveat: wall-clock timings on a shared machine; medians over repeated runs with the minimum beside them. "
        "Differences under ~20 % are within noise; compare ratios from one run, not numbers across machines."
        + (f" Load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on {machine['cpus']} CPUs"
           + (": other work is competing, expect more noise." if load[0] > (machine["cpus"] or 1) * 0.5 else ".")
           if load else "")
    )
    print(flush=True)

    report: dict[str, Any] = {
        "started_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "sizes": sizes.__dict__,
        "machine": machine,
        "areas": {},
    }
    failed = False
    started = time.perf_counter()
    for area in args.only or AREAS:
        t0 = time.perf_counter()
        try:
            table = importlib.import_module(f"bench.{area}").run(sizes)
        except Exception as exc:  # one broken area must not hide the others
            failed = True
            print(f"### {area}\n\nFAILED: {type(exc).__name__}: {exc}\n", flush=True)
            report["areas"][area] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        seconds = time.perf_counter() - t0
        print(table.render())
        load = load_average()
        print(f"({area}: {seconds:.1f} s" + (f", 1-min load average {load[0]:.2f}" if load else "") + ")\n", flush=True)
        report["areas"][area] = {**table.to_dict(), "seconds": seconds, "loadavg_end": load}
    report["seconds"] = time.perf_counter() - started
    report["loadavg_end"] = load_average()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    end = report["loadavg_end"]
    print(f"total {report['seconds']:.1f} s" + (f"; load average at end {end[0]:.2f}" if end else "")
          + f"; results written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
