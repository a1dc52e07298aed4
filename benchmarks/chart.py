"""Draw the benchmark chart of docs/benchmarks.md from the JSON of ``benchmarks.run --json``.

Plain Python writing SVG: no plotting dependency, and the same JSON always gives the
same bytes, so the committed picture can be checked against its data::

    python -m benchmarks.run --json benchmarks/results/full.json
    python -m benchmarks.chart benchmarks/results/full.json -o docs/img/benchmarks.svg

One panel per figure (CPU per call, CPU per streamed chunk, peak RSS with many calls in
flight, import time), one bar per client, ghmodels_async highlighted. ``--markdown``
prints the same figures as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

HIGHLIGHT = "ghmodels_async"


@dataclass(frozen=True)
class Panel:
    """One figure of the JSON, drawn as one group of bars."""

    key: str
    title: str
    unit: str
    digits: int


PANELS: tuple[Panel, ...] = (
    Panel("cpu_per_call_us", "Client CPU per call (lower is better)", "µs", 0),
    Panel("cpu_per_chunk_us", "Client CPU per streamed chunk (lower is better)", "µs", 1),
    Panel("peak_rss_mb", "Peak RSS with calls in flight (lower is better)", "MB", 0),
    Panel("import_ms", "Import time (lower is better)", "ms", 0),
)

WIDTH = 720
MARGIN = 16
NAME_W = 140
VALUE_W = 80
BAR_H = 18
BAR_GAP = 6
TITLE_H = 28
PANEL_GAP = 18
FONT = "Helvetica, Arial, sans-serif"


def load(path: Path) -> dict[str, Any]:
    """The JSON document written by ``benchmarks.run --json``."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("clients"), dict):
        raise ValueError(f"{path}: no 'clients' object; is it a benchmarks.run --json file?")
    return dict(doc)


def figures(doc: Mapping[str, Any], key: str) -> list[tuple[str, float]]:
    """(client, value) for every client with a positive figure, in the JSON's order."""
    rows = []
    for name, client in doc["clients"].items():
        value = client.get(key)
        if client.get("skipped") or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value) and value > 0:
            rows.append((name, float(value)))
    return rows


def _fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def subtitle(doc: Mapping[str, Any]) -> str:
    """One line saying where and how the figures were measured."""
    machine = doc.get("machine", {})
    settings = doc.get("settings", {})
    parts = [
        str(machine.get("date", "")),
        f"{machine.get('nproc', '?')} cores",
        f"Python {machine.get('python', '?')}",
        f"{settings.get('calls', '?')} calls, {settings.get('stream_calls', '?')} streams "
        f"of {settings.get('chunks', '?')} chunks",
        f"concurrency {settings.get('concurrency', '?')}",
    ]
    if settings.get("rss_inflight"):
        parts.append(f"{settings['rss_inflight']} calls in flight for RSS")
    return " · ".join(p for p in parts if p)


def render_svg(doc: Mapping[str, Any], panels: Sequence[Panel] = PANELS) -> str:
    """The chart as an SVG document."""
    drawn = [(panel, figures(doc, panel.key)) for panel in panels]
    drawn = [(panel, rows) for panel, rows in drawn if rows]
    height = MARGIN + 44
    for _, rows in drawn:
        height += TITLE_H + len(rows) * (BAR_H + BAR_GAP) + PANEL_GAP
    height += MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}" role="img" '
        'aria-label="Benchmark chart">',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 16}" font-size="17" font-weight="bold" '
        'fill="#212121">Client-side cost against one canned local server</text>',
        f'<text x="{MARGIN}" y="{MARGIN + 34}" font-size="11" fill="#616161">'
        f"{escape(subtitle(doc))}</text>",
    ]
    y = MARGIN + 44
    bar_x = MARGIN + NAME_W
    bar_room = WIDTH - bar_x - VALUE_W - MARGIN
    for panel, rows in drawn:
        out.append(
            f'<text x="{MARGIN}" y="{y + 18}" font-size="13" font-weight="bold" '
            f'fill="#37474f">{escape(panel.title)}</text>'
        )
        y += TITLE_H
        top = max(value for _, value in rows)
        for name, value in rows:
            width = max(1.0, bar_room * value / top)
            mine = name == HIGHLIGHT
            fill = "#3f51b5" if mine else "#b0bec5"
            weight = ' font-weight="bold"' if mine else ""
            out.append(
                f'<text x="{bar_x - 8}" y="{y + BAR_H - 5}" font-size="12" '
                f'text-anchor="end" fill="#263238"{weight}>{escape(name)}</text>'
            )
            out.append(
                f'<rect x="{bar_x}" y="{y}" width="{width:.1f}" height="{BAR_H}" rx="3" '
                f'fill="{fill}"><title>{escape(name)}: {_fmt(value, panel.digits)} '
                f"{escape(panel.unit)}</title></rect>"
            )
            out.append(
                f'<text x="{bar_x + width + 6:.1f}" y="{y + BAR_H - 5}" font-size="12" '
                f'fill="#263238"{weight}>{_fmt(value, panel.digits)} {escape(panel.unit)}</text>'
            )
            y += BAR_H + BAR_GAP
        y += PANEL_GAP
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_markdown(doc: Mapping[str, Any], panels: Sequence[Panel] = PANELS) -> str:
    """The same figures as a Markdown table (one row per client)."""
    names = [name for name, c in doc["clients"].items() if not c.get("skipped")]
    header = "| client | " + " | ".join(f"{p.key} ({p.unit})" for p in panels) + " |"
    lines = [header, "|---" * (len(panels) + 1) + "|"]
    for name in names:
        cells = []
        for panel in panels:
            value = dict(figures(doc, panel.key)).get(name)
            cells.append("-" if value is None else _fmt(value, panel.digits))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: JSON in, SVG (and optionally a Markdown table) out."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.chart", description=__doc__)
    ap.add_argument("json", type=Path, help="a file written by python -m benchmarks.run --json")
    ap.add_argument("-o", "--output", type=Path, help="SVG file to write (default: stdout)")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = ap.parse_args(argv)
    try:
        doc = load(args.json)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    svg = render_svg(doc)
    if args.output is None:
        sys.stdout.write(svg)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(svg, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    if args.markdown:
        sys.stdout.write(render_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
