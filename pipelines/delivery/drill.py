"""A delivery drill: deliver made-up counts (pipelines.delivery.sample) through the real ledger and
outbox. Crash-safety and concurrency tests run it as a real child process, optionally with
``AUTOCLEAR_CRASH_AT=<point>`` (see pipelines.delivery.faults) to SIGKILL it at a chosen point.

    python -m pipelines.delivery.drill --workdir W --ledger-url URL [--schema S] --counts 200 \\
        [--changed-every K] [--run-id R] [--layout NAME] [--hold-lock SECONDS] [--lock-timeout S]

Prints one JSON line: the delivery's summary, or {"error": ...} with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from pipelines.errors import AutoclearError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.delivery.drill")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--ledger-url")
    parser.add_argument("--schema")
    parser.add_argument("--county", default="LOS ANGELES")
    parser.add_argument("--counts", type=int, default=200)
    parser.add_argument("--changed-every", type=int, default=0)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--run-id", default="drill")
    parser.add_argument("--layout", default=None)
    parser.add_argument("--target", default=None)
    parser.add_argument("--lock-timeout", type=float, default=None)
    parser.add_argument("--hold-lock", type=float, default=0.0, help="only hold the county lock this long")
    args = parser.parse_args(argv)

    from pipelines.delivery import assemble_delivery, deliver
    from pipelines.delivery.sample import sample_frames
    from pipelines.ledger import Ledger

    try:
        ledger = Ledger(args.ledger_url, workdir=args.workdir, schema=args.schema)
        if args.hold_lock:
            with ledger.lock_county(args.county, holder=f"drill {args.run_id}"):
                print(json.dumps({"locked": True}), flush=True)
                time.sleep(args.hold_lock)
            return 0
        frames = sample_frames(args.counts, county=args.county, changed_every=args.changed_every,
                               offset=args.offset)
        build = assemble_delivery(frames["determinations"], frames["counts"], frames["persons"],
                                  frames["reconciled"], county=args.county, run_id=args.run_id)
        result = deliver(build, county=args.county, ledger=ledger, run_id=args.run_id, workdir=args.workdir,
                         target=args.target, layout=args.layout, determinations=frames["determinations"],
                         lock_timeout=args.lock_timeout)
    except AutoclearError as exc:
        print(json.dumps({"error": str(exc), "kind": type(exc).__name__}), flush=True)
        return 1
    print(json.dumps(result.summary(), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
