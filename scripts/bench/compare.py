#!/usr/bin/env python3
"""Judges one benchmark: the floor (empty preload) against faultdump.

usage: compare.py ratio|delta|kib TARGET SCENARIO JSON [FLOOR_INDEX LIB_INDEX]

JSON is hyperfine's --export-json output (or spawnloop's, same shape); the
results at FLOOR_INDEX (default 0) and LIB_INDEX (default 1) are compared.
ratio: faultdump / floor, PASS when <= TARGET.
delta: faultdump - floor in ms, PASS when < TARGET.
kib: as delta, for sizes in KiB (the JSON holds KiB, not seconds), PASS
when <= TARGET.
TARGET "-": no target, the figure is printed for information.

Both the means and the medians are compared; the verdict is taken on the
medians, because on a shared virtual machine rare stalls of several
milliseconds (other guests, other jobs) land in single runs and move the
means more than anything the library does. Means are printed with the
standard deviation of single runs; ratios and deltas with their standard
error (1 sigma; for medians estimated from the median absolute deviation).
Appends one tab-separated row to $BENCH_RESULTS when that is set:
scenario, floor, faultdump, comparison, target, verdict, command.
"""
import json
import math
import os
import statistics
import sys


class Sample:
    def __init__(self, result):
        self.times = [float(t) for t in result.get("times") or [result["mean"]]]
        self.n = len(self.times)
        self.mean = statistics.mean(self.times)
        self.sd = statistics.stdev(self.times) if self.n > 1 else 0.0
        self.median = statistics.median(self.times)
        mad = statistics.median(abs(t - self.median) for t in self.times)
        # Standard error of the mean, and of the median (normal-consistent
        # MAD, times sqrt(pi/2)).
        self.se_mean = self.sd / math.sqrt(self.n)
        self.se_median = 1.2533 * 1.4826 * mad / math.sqrt(self.n)


def ratio(a, b, ea, eb):
    value = b / a
    return value, value * math.sqrt((ea / a) ** 2 + (eb / b) ** 2)


def delta(a, b, ea, eb):
    return b - a, math.sqrt(ea**2 + eb**2)


def short(command):
    """The command with this run's temporary paths made readable."""
    for var, name in (("BENCH_LIB", "libfaultdump.so"), ("BENCH_FLOOR", "libempty.so")):
        if os.environ.get(var):
            command = command.replace(os.environ[var], name)
    if os.environ.get("BENCH_TMP"):
        command = command.replace(os.environ["BENCH_TMP"] + "/", "")
    return command


def main():
    mode, scenario, path = sys.argv[1], sys.argv[3], sys.argv[4]
    target = math.inf if sys.argv[2] == "-" else float(sys.argv[2])
    fi, li = (int(sys.argv[5]), int(sys.argv[6])) if len(sys.argv) > 6 else (0, 1)
    with open(path) as f:
        results = json.load(f)["results"]
    floor, lib = Sample(results[fi]), Sample(results[li])
    if mode == "ratio":
        compare, scale, unit, fmt_value = ratio, 1.0, "x", "{:.3f}x ± {:.3f}"
        target_text = f"<= {target:g}x"
    elif mode == "delta":
        compare, scale, unit, fmt_value = delta, 1e3, " ms", "{:+.3f} ± {:.3f} ms"
        target_text = f"< {target:g} ms"
    elif mode == "kib":
        compare, scale, unit, fmt_value = delta, 1.0, " KiB", "{:+.0f} ± {:.0f} KiB"
        target_text = f"<= {target:g} KiB"
    else:
        sys.exit(f"compare.py: unknown mode {mode}")
    by_median, err_median = compare(floor.median, lib.median, floor.se_median, lib.se_median)
    by_mean, err_mean = compare(floor.mean, lib.mean, floor.se_mean, lib.se_mean)
    if mode != "ratio":
        by_median, err_median, by_mean, err_mean = (v * scale for v in (by_median, err_median, by_mean, err_mean))
    ok = by_median < target if mode == "delta" else by_median <= target
    verdict = "PASS" if ok else "FAIL"
    if abs(by_median - target) <= 2 * err_median:
        verdict += " (within 2 sigma of the target)"
    if target == math.inf:
        verdict, target_text = "info", "-"

    def show(s):
        if mode == "kib":
            return f"{s.mean:.0f} ± {s.sd:.0f} KiB (median {s.median:.0f})"
        return f"{s.mean * 1e3:.3f} ± {s.sd * 1e3:.3f} ms (median {s.median * 1e3:.3f})"

    comparison = (fmt_value.format(by_median, err_median) + " (medians); "
                  + fmt_value.format(by_mean, err_mean) + " (means)")
    print(f"{scenario}: empty preload {show(floor)}, faultdump {show(lib)}, n={floor.n}/{lib.n}")
    print(f"  -> {comparison}; target {target_text}: {verdict}")
    out = os.environ.get("BENCH_RESULTS")
    if out:
        with open(out, "a") as f:
            command = f"{os.environ.get('BENCH_SCRIPT', '')}: `{short(results[li]['command'])}`"
            row = [scenario, show(floor), show(lib), comparison, target_text, verdict, command]
            f.write("\t".join(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
