#!/usr/bin/env python3
"""Judges one benchmark: the floor (empty preload) against faultdump.

usage: compare.py ratio|delta|kib TARGET SCENARIO JSON [FLOOR_INDEX LIB_INDEX]

JSON is hyperfine's --export-json output (or spawnloop's, same shape); the
results at FLOOR_INDEX (default 0) and LIB_INDEX (default 1) are compared.
ratio: faultdump mean / floor mean, PASS when <= TARGET.
delta: faultdump mean - floor mean in ms, PASS when < TARGET.
kib: as delta, for sizes in KiB (the JSON holds KiB, not seconds), PASS
when <= TARGET.
TARGET "-": no target, the figure is printed for information.
Means are printed with the standard deviation of single runs; the ratio and
the delta with their standard error (1 sigma, from the two means).
Appends one tab-separated row to $BENCH_RESULTS when that is set:
scenario, floor, faultdump, comparison, target, verdict, command.
"""
import json
import math
import os
import sys


def summary(result):
    times = result.get("times") or []
    n = len(times) or 1
    return result["mean"], result["stddev"] or 0.0, n, result.get("median", result["mean"])


def ms(mean, sd):
    return f"{mean * 1e3:.3f} ± {sd * 1e3:.3f} ms"


def kib(mean, sd):
    return f"{mean:.0f} ± {sd:.0f} KiB"


def main():
    mode, scenario, path = sys.argv[1], sys.argv[3], sys.argv[4]
    target = math.inf if sys.argv[2] == "-" else float(sys.argv[2])
    fi, li = (int(sys.argv[5]), int(sys.argv[6])) if len(sys.argv) > 6 else (0, 1)
    with open(path) as f:
        results = json.load(f)["results"]
    floor, lib = results[fi], results[li]
    m1, s1, n1, med1 = summary(floor)
    m2, s2, n2, med2 = summary(lib)
    se1, se2 = s1 / math.sqrt(n1), s2 / math.sqrt(n2)
    if mode == "ratio":
        value = m2 / m1
        err = value * math.sqrt((se1 / m1) ** 2 + (se2 / m2) ** 2)
        ok = value <= target
        comparison = f"{value:.3f}x ± {err:.3f}"
        median = f"median ratio {med2 / med1:.3f}x"
        target_text = f"<= {target:g}x"
        near = abs(value - target) <= 2 * err
    elif mode == "delta":
        value = (m2 - m1) * 1e3
        err = math.sqrt(se1**2 + se2**2) * 1e3
        ok = value < target
        comparison = f"+{value:.3f} ± {err:.3f} ms" if value >= 0 else f"{value:.3f} ± {err:.3f} ms"
        median = f"median delta {(med2 - med1) * 1e3:+.3f} ms"
        target_text = f"< {target:g} ms"
        near = abs(value - target) <= 2 * err
    elif mode == "kib":
        value = m2 - m1
        err = math.sqrt(se1**2 + se2**2)
        ok = value <= target
        comparison = f"{value:+.0f} ± {err:.0f} KiB"
        median = f"median delta {med2 - med1:+.0f} KiB"
        target_text = f"<= {target:g} KiB"
        near = abs(value - target) <= 2 * err
    else:
        sys.exit(f"compare.py: unknown mode {mode}")
    fmt = kib if mode == "kib" else ms
    verdict = "PASS" if ok else "FAIL"
    if near:
        verdict += " (within 2 sigma of the target)"
    if target == math.inf:
        verdict, target_text = "info", "-"
    print(f"{scenario}: empty preload {fmt(m1, s1)} (n={n1}), faultdump {fmt(m2, s2)} (n={n2})")
    print(f"  -> {comparison} ({median}); target {target_text}: {verdict}")
    out = os.environ.get("BENCH_RESULTS")
    if out:
        with open(out, "a") as f:
            row = [scenario, fmt(m1, s1), fmt(m2, s2), comparison, target_text, verdict, lib["command"]]
            f.write("\t".join(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
