"""Draw docs/img/layers.svg, the layer diagram of docs/design.md, from the tables below.

Plain Python writing SVG (no drawing dependency), so the picture is regenerated rather
than edited by hand: ``python docs/scripts/layer_diagram.py`` rewrites the file.

The floors, top to bottom: the command line; the jobs (batch files, prompt files); what
is built over one client (tools, fan-out, rate limiters); the client and its resources;
the I/O edge; the pure core. Each floor builds on the floors below it. Beside them: the
fake server and its pytest fixtures (which use none of the client's private modules) and
the servers the edge talks to.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "img" / "layers.svg"
WIDTH = 820
MARGIN = 16
SIDE_W = 184
SIDE_X = WIDTH - MARGIN - SIDE_W
SIDE_GAP = 40
MAIN_X = MARGIN
MAIN_W = SIDE_X - SIDE_GAP - MAIN_X
BAND_PAD = 8
LABEL_H = 22
GAP = 14
INNER_GAP = 8
LINE_H = 14
TITLE_Y = 19
FONT = "Helvetica, Arial, sans-serif"

Box = tuple[str, list[str]]  # (title, lines under it)

# (floor name, note, fill colour, boxes per line, boxes), top to bottom
FLOORS: list[tuple[str, str, str, int, list[Box]]] = [
    ("Command line", "ghmodels, on the public API", "#e8eaf6", 4, [
        ("cli.py", ["demo · chat · models", "exit codes"]),
        ("_cli_batch.py", ["batch"]),
        ("_cli_fake.py", ["serve-fake --fault"]),
        ("prompts/cli.py", ["run · eval"]),
    ]),
    ("Jobs", "whole workloads", "#ede7f6", 3, [
        ("batch.py", ["_batch_files.py", "JSONL in, resumable out"]),
        ("progress.py", ["live or plain", "progress line"]),
        ("prompts/", ["load · render · run", "evaluate .prompt.yml"]),
    ]),
    ("Over the client", "typed output, many calls, pacing", "#e3f2fd", 4, [
        ("tools.py", ["_schema · _parse", "_tool_loop"]),
        ("fanout.py", ["fan_out", "fan_out_stream"]),
        ("ratelimit.py", ["Limiter · TierLimiter", "_limiter · _tiers"]),
        ("RedisRateLimiter", ["_redis_limiter", "_redis_scripts (Lua)"]),
    ]),
    ("Client", "the resources, one retry loop", "#c5cae9", 2, [
        ("client.py", ["Client · chat.completions", "embeddings · models"]),
        ("_pacing.py", ["asks the rate limiter", "before each attempt"]),
    ]),
    ("I/O edge", "the only module importing aiohttp", "#fff3e0", 1, [
        ("_transport.py", ["session, bounded reads, lowercase headers, aiohttp errors mapped"]),
    ]),
    ("Pure core", "no I/O, tested alone", "#e0f2f1", 3, [
        ("types.py", ["every body as a Struct"]),
        ("contract.py", ["request limits, shared"]),
        ("_sansio.py", ["URLs, bodies, answers"]),
        ("_retry · _timeout", ["_config: policies as data"]),
        ("_sse · _stream", ["_accumulator: bytes → chunks"]),
        ("_info · _errors", ["_redact: headers, errors"]),
    ]),
]

# (first floor, last floor, fill, box): boxes of the side column, spanning those floors
SIDE: list[tuple[int, int, str, Box]] = [
    (0, 1, "#f3e5f5", ("pytest_plugin.py", [
        "fake_models_server", "fake_models_client", "(pytest fixtures)",
    ])),
    (2, 3, "#f3e5f5", ("testing/: the fake", [
        "server · validation", "answers · delivery", "faults · catalog", "judge · strict",
        "no client internals",
    ])),
    (4, 5, "#fce4ec", ("any server", [
        "base_url + path_prefix", "Azure AI Foundry", "OpenAI, vLLM,", "llama.cpp, Ollama",
        "FakeServer (127.0.0.1)", "GitHub: 410 Gone",
    ])),
]


def _box_height(box: Box) -> int:
    return TITLE_Y + LINE_H * len(box[1]) + 9


def _lines(per_line: int, boxes: list[Box]) -> list[list[Box]]:
    return [boxes[i : i + per_line] for i in range(0, len(boxes), per_line)]


def _line_height(line: list[Box]) -> int:
    return max(_box_height(b) for b in line)


def _floor_heights() -> list[int]:
    heights = []
    for _, _, _, per_line, boxes in FLOORS:
        lines = _lines(per_line, boxes)
        inner = sum(_line_height(line) for line in lines) + INNER_GAP * (len(lines) - 1)
        heights.append(LABEL_H + inner + BAND_PAD)
    for first, last, _, box in SIDE:  # a side box must fit the floors it spans
        span = sum(heights[first : last + 1]) + GAP * (last - first)
        missing = _box_height(box) - span
        if missing > 0:
            heights[last] += missing
    return heights


def _box(out: list[str], x: float, y: float, w: float, h: float, fill: str, box: Box) -> None:
    title, lines = box
    cx = x + w / 2
    out.append(
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="7" '
        f'fill="{fill}" stroke="#90a4ae"/>'
    )
    top = y + (h - _box_height(box)) / 2
    out.append(
        f'<text x="{cx:.1f}" y="{top + TITLE_Y:.1f}" font-size="13" font-weight="bold" '
        f'text-anchor="middle" fill="#263238">{escape(title)}</text>'
    )
    for k, line in enumerate(lines):
        out.append(
            f'<text x="{cx:.1f}" y="{top + TITLE_Y + LINE_H * (k + 1):.1f}" font-size="11.5" '
            f'text-anchor="middle" fill="#455a64">{escape(line)}</text>'
        )


def render() -> str:
    """The SVG document."""
    heights = _floor_heights()
    tops = []
    y = MARGIN + 22
    for h in heights:
        tops.append(y)
        y += h + GAP
    height = y - GAP + MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}" role="img" '
        'aria-label="ghmodels_async layers">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L8,4 L0,8 z" '
        'fill="#607d8b"/></marker></defs>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="{MAIN_X}" y="{MARGIN + 6}" font-size="12" fill="#546e7a">'
        "Each floor builds on the floors below it (two exceptions: see the text).</text>",
        f'<text x="{SIDE_X + SIDE_W / 2}" y="{MARGIN + 6}" font-size="12" '
        'text-anchor="middle" fill="#546e7a">Beside the floors</text>',
    ]
    for i, (name, note, fill, per_line, boxes) in enumerate(FLOORS):
        top, h = tops[i], heights[i]
        out.append(
            f'<rect x="{MAIN_X}" y="{top}" width="{MAIN_W}" height="{h}" rx="9" '
            'fill="#fafafa" stroke="#cfd8dc"/>'
        )
        out.append(
            f'<text x="{MAIN_X + 10}" y="{top + 16}" font-size="13" font-weight="bold" '
            f'fill="#263238">{escape(name)}'
            f'<tspan font-size="11.5" font-weight="normal" fill="#546e7a">  ·  {escape(note)}'
            "</tspan></text>"
        )
        y = top + LABEL_H
        inner_w = MAIN_W - 2 * BAND_PAD
        for line in _lines(per_line, boxes):
            line_h = _line_height(line)
            w = (inner_w - INNER_GAP * (per_line - 1)) / per_line
            for j, box in enumerate(line):
                _box(out, MAIN_X + BAND_PAD + j * (w + INNER_GAP), y, w, line_h, fill, box)
            y += line_h + INNER_GAP
        if i < len(FLOORS) - 1:
            ax = MAIN_X + MAIN_W / 2
            out.append(
                f'<path d="M{ax:.1f} {top + h + 1} L{ax:.1f} {top + h + GAP - 1}" '
                'stroke="#607d8b" stroke-width="2" marker-end="url(#arrow)"/>'
            )
    for first, last, fill, box in SIDE:
        top = tops[first]
        bottom = tops[last] + heights[last]
        _box(out, SIDE_X, top, SIDE_W, bottom - top, fill, box)
    # the edge talks HTTP to the servers of the side column
    edge = next(i for i, floor in enumerate(FLOORS) if floor[0] == "I/O edge")
    ey = tops[edge] + heights[edge] / 2
    out.append(
        f'<path d="M{MAIN_X + MAIN_W + 2} {ey:.1f} L{SIDE_X - 2} {ey:.1f}" stroke="#607d8b" '
        'stroke-width="2" stroke-dasharray="5,3" marker-end="url(#arrow)"/>'
    )
    out.append(
        f'<text x="{MAIN_X + MAIN_W + SIDE_GAP / 2}" y="{ey - 6:.1f}" font-size="10.5" '
        'text-anchor="middle" fill="#546e7a">HTTP</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    """Write the SVG next to the docs."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
