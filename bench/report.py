"""Turn one run's measurements into the tables on screen, a JSON file and (with matplotlib) a PNG chart.

Ratios are always ``livews / peer`` of the figure in the row; the ``better`` column says which way is good
(↑ higher, ↓ lower), so a ratio above 1 is a win on a ↑ row and a loss on a ↓ row. This module knows the rows
but nothing about servers or sockets.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workloads import ROWS, Row

__all__ = [
    "Results",
    "Summary",
    "cost_table",
    "cpu_table",
    "loop_table",
    "main_table",
    "summarize",
    "write_chart",
    "write_json",
]

LEAD = "livews"
_BOUND = 90.0
"""Generator above this % of its core with the server below it: the figure is generator-bound."""
_NOISY = 20.0
"""Busy % of the two cores that neither process accounts for, above which a figure is marked disturbed."""

Results = dict[str, dict[str, list[dict[str, Any]]]]
Summary = dict[str, dict[str, dict[str, Any]]]


def summarize(results: Results, servers: Sequence[str]) -> Summary:
    """Median value per row and server over the rounds, with the CPU figures of the median round."""
    summary: Summary = {}
    for row in ROWS:
        per_row = results.get(row.key)
        if per_row is None:
            continue
        summary[row.key] = {}
        for name in servers:
            rounds = per_row.get(name, [])
            good = [m for m in rounds if "value" in m]
            if not good:
                problem = next(
                    (m for m in rounds if "unsupported" in m or "error" in m), {"error": "not run"}
                )
                summary[row.key][name] = {k: v for k, v in problem.items() if k in ("unsupported", "error")}
                continue
            ordered = sorted(good, key=lambda m: m["value"])
            middle = ordered[(len(ordered) - 1) // 2]
            entry: dict[str, Any] = {
                "value": statistics.median(m["value"] for m in good),
                "rounds": len(good),
            }
            if len(good) > 1:
                entry["min"] = ordered[0]["value"]
                entry["max"] = ordered[-1]["value"]
            for key in ("server_cpu_pct", "generator_cpu_pct", "other_cpu_pct"):
                if key in middle:
                    entry[key] = middle[key]
            per_op = [m["server_us_per_op"] for m in good if "server_us_per_op" in m]
            if per_op:
                entry["server_us_per_op"] = statistics.median(per_op)
            summary[row.key][name] = entry
    return summary


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    if "value" in entry:
        return _fmt(entry["value"])
    if "unsupported" in entry:
        return "n/a"
    return "failed"


def _table(header: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    out = []
    for n, line in enumerate([header, *lines]):
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main_table(summary: Summary, servers: Sequence[str]) -> str:
    """workload | unit | each server | livews/peer ratios | better."""
    peers = [s for s in servers if s != LEAD]
    with_lead = LEAD in servers
    header = ["workload", "unit", *servers]
    if with_lead:
        header += [f"{LEAD}/{p}" for p in peers]
    header.append("better")
    lines = []
    for row in ROWS:
        if row.key not in summary:
            continue
        entries = summary[row.key]
        line = [f"{row.workload}. {row.label}", row.unit, *(_cell(entries.get(s)) for s in servers)]
        if with_lead:
            lead = entries.get(LEAD, {}).get("value")
            for peer in peers:
                value = entries.get(peer, {}).get("value")
                line.append(f"{lead / value:.2f}" if lead is not None and value else "-")
        line.append("↑" if row.higher_is_better else "↓")
        lines.append(line)
    return _table(header, lines)


def _cpu_cell(entry: dict[str, Any] | None) -> str:
    if entry is None or "server_cpu_pct" not in entry:
        return "-"
    server = entry["server_cpu_pct"]
    gen = entry["generator_cpu_pct"]
    other = entry.get("other_cpu_pct", 0.0)
    mark = ""
    if gen >= _BOUND and server < _BOUND:
        mark = " GEN-BOUND"
    elif other >= _NOISY:
        mark = " noisy"
    return f"{server:.0f} / {gen:.0f} / {other:.0f}{mark}"


def cpu_table(summary: Summary, servers: Sequence[str]) -> str:
    """Per throughput row: server % / generator % / other % of one core, for the median round."""
    lines = []
    for row in ROWS:
        if row.key in summary and row.throughput:
            entries = summary[row.key]
            lines.append([f"{row.workload}. {row.label}", *(_cpu_cell(entries.get(s)) for s in servers)])
    return _table(["CPU % server / generator / other", *servers], lines)


def cost_table(summary: Summary, servers: Sequence[str]) -> str:
    """Server CPU microseconds per message (echo rows) or per connection (handshake rows), with ratios.

    This is the fair comparison when a figure is generator-bound: it does not depend on who saturates.
    """
    peers = [s for s in servers if s != LEAD]
    with_lead = LEAD in servers
    header = ["server CPU µs per message / connection", *servers]
    if with_lead:
        header += [f"{LEAD}/{p}" for p in peers]
    lines = []
    for row in ROWS:
        if row.key not in summary or not row.throughput:
            continue
        entries = summary[row.key]
        costs = {s: entries.get(s, {}).get("server_us_per_op") for s in servers}
        line = [f"{row.workload}. {row.label}", *(_fmt(c) if c is not None else "-" for c in costs.values())]
        if with_lead:
            lead = costs.get(LEAD)
            line += [f"{lead / costs[p]:.2f}" if lead is not None and costs[p] else "-" for p in peers]
        lines.append(line)
    return _table(header, lines)


def loop_table(summaries: dict[str, Summary], servers: Sequence[str]) -> str:
    """Each server's figure on the second loop divided by its own figure on the first (same run)."""
    base, other = list(summaries)[:2]
    lines = []
    for row in ROWS:
        if row.key not in summaries[base] or row.key not in summaries[other]:
            continue
        line = [f"{row.workload}. {row.label}"]
        for name in servers:
            a = summaries[base][row.key].get(name, {}).get("value")
            b = summaries[other][row.key].get(name, {}).get("value")
            line.append(f"{b / a:.2f}" if a and b is not None else "-")
        line.append("↑" if row.higher_is_better else "↓")
        lines.append(line)
    return _table([f"{other}/{base}, same server", *servers, "better"], lines)


def _rows(results: Results, summary: Summary) -> list[dict[str, Any]]:
    return [
        {
            "key": row.key,
            "workload": row.workload,
            "label": row.label,
            "unit": row.unit,
            "higher_is_better": row.higher_is_better,
            "summary": summary[row.key],
            "rounds": results.get(row.key, {}),
        }
        for row in ROWS
        if row.key in summary
    ]


def write_json(
    path: Path, meta: dict[str, Any], results: dict[str, Results], summaries: dict[str, Summary]
) -> None:
    """``{"meta", "rows"}`` for a run on one event loop, ``{"meta", "loops": {loop: {"rows"}}}`` for more."""
    document: dict[str, Any] = {"meta": meta}
    if len(summaries) == 1:
        [(loop, summary)] = summaries.items()
        document["rows"] = _rows(results[loop], summary)
    else:
        document["loops"] = {loop: {"rows": _rows(results[loop], s)} for loop, s in summaries.items()}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def write_chart(path: Path, summary: Summary, servers: Sequence[str], title: str) -> bool:
    """One bar panel per row; False (and no file) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows: list[Row] = [r for r in ROWS if r.key in summary]
    if not rows:
        return False
    cols = 3
    nrows = (len(rows) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 2.6 * nrows), squeeze=False)
    colors = {"livews": "#d62728", "websockets": "#1f77b4", "aiohttp": "#2ca02c", "picows": "#9467bd"}
    for ax, row in zip(axes.flat, rows, strict=False):
        names = [s for s in servers if "value" in summary[row.key].get(s, {})]
        values = [summary[row.key][s]["value"] for s in names]
        bars = ax.barh(names, values, color=[colors.get(s, "#7f7f7f") for s in names])
        ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=7, padding=2)
        ax.invert_yaxis()
        ax.set_title(
            f"{row.workload}. {row.label}\n{row.unit}, {'higher' if row.higher_is_better else 'lower'} "
            "is better",
            fontsize=8,
        )
        ax.tick_params(labelsize=7)
        ax.margins(x=0.25)
    for ax in list(axes.flat)[len(rows) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
