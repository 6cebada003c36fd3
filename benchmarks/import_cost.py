"""How much the plugin adds to ``import alembic``.

    python benchmarks/import_cost.py [--runs 20] [--target-ms 5]

Alembic loads every ``alembic.plugins`` entry point on ``import alembic``, in
every process that imports it, so our load path must stay cheap. This runs
``python -X importtime -c "import alembic"`` in fresh interpreters of the
current environment, sums the self time of our modules, and reports the
median against the target. It also checks that Flask was not imported. Exits
1 when the target is missed. Timing lives here, not in the unit tests, where
a loaded machine would make it flaky.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

PACKAGE = "alembic_flask_env"


def measure_once() -> tuple[float, float, set[str]]:
    """Return (our self time, total import time) in ms, and modules we saw."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import alembic"],
        capture_output=True,
        text=True,
        check=True,
    )
    ours_us = 0
    total_us = 0
    modules = set()
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        name = name.strip()
        modules.add(name.split(".")[0])
        if name.startswith(PACKAGE):
            ours_us += int(self_us)
        if name == "alembic":
            total_us = int(cumulative_us)
    return ours_us / 1000, total_us / 1000, modules


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--target-ms", type=float, default=5.0)
    args = parser.parse_args()

    ours, totals, modules = [], [], set()
    for _ in range(args.runs):
        ours_ms, total_ms, seen = measure_once()
        ours.append(ours_ms)
        totals.append(total_ms)
        modules |= seen
    if PACKAGE not in modules:
        print(f"{PACKAGE} was not imported: is the package installed here?")
        return 1
    median = statistics.median(ours)
    print(f"import alembic, median of {args.runs}: {statistics.median(totals):.1f} ms")
    print(f"  of which {PACKAGE}: {median:.2f} ms (target {args.target_ms} ms)")
    if "flask" in modules:
        print("  FAIL: importing alembic imported flask")
        return 1
    if median > args.target_ms:
        print("  FAIL: over target")
        return 1
    print("  OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
