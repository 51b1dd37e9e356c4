"""Per-module results of a mutmut 3 run: ``python tests/tools/mutation_report.py [mutants]``.

Reads the ``*.py.meta`` files mutmut keeps beside each mutated module and prints, per module,
killed, timed out (the tests hung: caught), survived and not covered by any selected test,
the score (killed + timeout) / total, then the names of the mutants not caught (``mutmut show NAME`` prints one's diff).  Exit status 0: a report, not a gate.
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
    print(f"{'module':34} {'killed':>7} {'timeout':>8} {'survived':>9} {'no tests':>9} {'total':>6} {'score':>7}")

    def row(name: str, counts: Counter[str], n: int) -> str:
        detected = counts["killed"] + counts["timeout"]  # a mutant that makes the tests hang is caught
        cells = [counts["killed"], counts["timeout"], counts["survived"], counts["no tests"], n]
        return f"{name:34} {cells[0]:>7} {cells[1]:>8} {cells[2]:>9} {cells[3]:>9} {cells[4]:>6} {detected / n:>7.1%}"

    for module, statuses in found.items():
        counts = Counter(statuses.values())
        total.update(counts)
        print(row(module, counts, len(statuses)))
        odd = {s: n for s, n in counts.items() if s not in ("killed", "timeout", "survived", "no tests")}
        if odd:
            print(f"{'':34} also: {odd}")
    print(row("all", total, sum(total.values())))
    for module, statuses in found.items():
        survivors = sorted(name for name, status in statuses.items() if status not in ("killed", "timeout"))
        if survivors:
            print(f"\n{module}: not killed")
            print("\n".join(f"  {name} ({statuses[name]})" for name in survivors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
