"""Per-module results of a mutmut 3 run: ``python tests/support/mutation_report.py [mutants]``.

Reads the ``*.py.meta`` files mutmut keeps beside each mutated module and prints, per module,
killed/total and what the rest are (survived, no tests, timeout, ...), then the surviving
mutants' names (``mutmut show NAME`` prints one's diff).  Exit status 0: a report, not a gate.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

#: mutmut's exit codes (mutmut/stats.py ``status_by_exit_code``): the ones a run records.
STATUS = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "caught by type check",
    -11: "segfault",
    -9: "segfault",
    None: "not checked",
}


def results(root: Path) -> dict[str, dict[str, str]]:
    """Module path -> mutant name -> status."""
    out: dict[str, dict[str, str]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text("utf-8")).get("exit_code_by_key", {})
        if codes:
            module = meta.relative_to(root).as_posix().removesuffix(".meta")
            out[module] = {name: STATUS.get(code, "suspicious") for name, code in codes.items()}
    return out


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "mutants")
    found = results(root)
    if not found:
        print(f"no mutmut results under {root}: run `mutmut run` first")
        return 1
    total = Counter[str]()
    print(f"{'module':34} {'killed/total':>14} {'score':>7}  other")
    for module, statuses in found.items():
        counts = Counter(statuses.values())
        total.update(counts)
        other = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != "killed")
        print(f"{module:34} {counts['killed']:>6}/{len(statuses):<7} {counts['killed'] / len(statuses):>7.1%}  {other}")
    n = sum(total.values())
    print(f"{'all':34} {total['killed']:>6}/{n:<7} {total['killed'] / n:>7.1%}")
    for module, statuses in found.items():
        survivors = sorted(name for name, status in statuses.items() if status != "killed")
        if survivors:
            print(f"\n{module}: not killed")
            print("\n".join(f"  {name} ({statuses[name]})" for name in survivors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
