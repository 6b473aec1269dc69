"""``python -m tracelens.samples``: write the sample set (or a bulk benchmark input).

python -m tracelens.samples --out sample_traces
python -m tracelens.samples --out /tmp/bulk --bulk 1000000 --format ndjson
python -m tracelens.samples --out sample_traces --otel-out /tmp/sample-otel
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path

from tracelens.samples.bulk import write_bulk
from tracelens.samples.generate import DEFAULT_START, SampleConfig, generate
from tracelens.samples.otel import write_otel
from tracelens.samples.writer import write_sample_set


def _start(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--start needs a UTC offset, e.g. {text}+00:00")
    return moment


def _parser() -> argparse.ArgumentParser:
    defaults = SampleConfig()
    parser = argparse.ArgumentParser(
        prog="python -m tracelens.samples",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--traces", type=int, default=defaults.traces, help="traced requests (at least 60)"
    )
    parser.add_argument(
        "--start",
        type=_start,
        default=DEFAULT_START,
        help="window start, ISO 8601 with offset (default %(default)s)",
    )
    parser.add_argument("--window-minutes", type=int, default=60)
    parser.add_argument(
        "--bulk",
        type=int,
        metavar="N_SEGMENTS",
        help="write N segment documents for benchmarks instead",
    )
    parser.add_argument(
        "--format",
        choices=("ndjson", "batch", "aws-spans"),
        default="ndjson",
        help="bulk output format (aws-spans: one aws/spans record per line)",
    )
    parser.add_argument(
        "--otel-out",
        type=Path,
        help="also write the sample's traces as OpenTelemetry spans here "
        "(aws-spans/spans.jsonl and otlp/traces.jsonl)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.bulk is not None:
        paths = write_bulk(args.out, args.bulk, seed=args.seed, fmt=args.format, start=args.start)
    else:
        config = SampleConfig(
            seed=args.seed,
            traces=args.traces,
            start=args.start,
            window=timedelta(minutes=args.window_minutes),
        )
        try:
            sample = generate(config)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        paths = write_sample_set(sample, args.out)
        if args.otel_out is not None:
            paths += write_otel(sample.traces, args.otel_out)
    print(f"wrote {len(paths)} files under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
