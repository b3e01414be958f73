#!/usr/bin/env python3
"""Draws p99 latency against rate from `tests/kafka/side_by_side.sh ... latency` output
(stdin) as an SVG (stdout): one line per system and client, log-scale latency.

Usage: tests/kafka/side_by_side.sh 0 cluster latency | tools/scripts/latency_chart.py > chart.svg
"""
import math
import re
import sys

# "<system> <layout> <rate>/s <client>: <line>"
LINE = re.compile(r"^(\S+) (\S+) (\d+)/s ([^:]+): (.*)$")
PERF_P99 = re.compile(r"(\d+) ms 99th")
BENCH_P99 = re.compile(r"p99 ([\d.]+)")
COLOURS = ["#1f77b4", "#aec7e8", "#d62728", "#ff9896"]
W, H, LEFT, BOTTOM, TOP, RIGHT = 820, 420, 70, 50, 30, 290


def series(lines):
    points = {}
    for line in lines:
        match = LINE.match(line.strip())
        if not match:
            continue
        system, layout, rate, client, rest = match.groups()
        found = PERF_P99.search(rest) or BENCH_P99.search(rest)
        if found:
            points.setdefault(f"{system} {layout}, {client}", []).append((int(rate), float(found.group(1))))
    return points


def main():
    points = series(sys.stdin)
    if not points:
        sys.exit("no latency lines on stdin")
    rates = sorted({r for values in points.values() for r, _ in values})
    lows = [max(v, 0.5) for values in points.values() for _, v in values]
    y_min, y_max = math.floor(math.log10(min(lows))), math.ceil(math.log10(max(lows)))
    y_max = max(y_max, y_min + 1)

    def x(rate):
        return LEFT + (W - LEFT - RIGHT) * rates.index(rate) / max(len(rates) - 1, 1)

    def y(ms):
        return H - BOTTOM - (H - BOTTOM - TOP) * (math.log10(max(ms, 0.5)) - y_min) / (y_max - y_min)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{LEFT}" y="18" font-size="14">p99 send-to-acknowledgement latency by rate (log scale)</text>']
    for power in range(y_min, y_max + 1):
        ms = 10 ** power
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(ms):.1f}" y2="{y(ms):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y(ms) + 4:.1f}" text-anchor="end">{ms:g} ms</text>')
    for rate in rates:
        out.append(f'<text x="{x(rate):.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">{rate:,}/s</text>')
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 12}" text-anchor="middle">messages per second (1 KiB)</text>')
    for i, (name, values) in enumerate(sorted(points.items())):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{x(r):.1f},{y(v):.1f}" for r, v in sorted(values))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for r, v in values:
            out.append(f'<circle cx="{x(r):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
        out.append(f'<rect x="{W - RIGHT + 12}" y="{TOP + 20 * i}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{W - RIGHT + 30}" y="{TOP + 10 + 20 * i}">{name}</text>')
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
