"""Draw docs/img/layers.svg, the layer diagram of docs/design.md, from the table below.

Plain Python writing SVG (no drawing dependency), so the picture is regenerated rather
than edited by hand: ``python docs/scripts/layer_diagram.py`` rewrites the file.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "img" / "layers.svg"
WIDTH = 860
MARGIN = 20
ROW_H = 58
GAP = 16
LABEL_W = 130

# (layer name, note, fill colour, boxes: (title, subtitle))
LAYERS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("Your code", "public API only", "#e8eaf6", [
        ("your application", "async with Client()"),
        ("cli.py", "ghmodels chat / demo"),
        ("fanout.py", "fan_out, Outcome"),
    ]),
    ("Client", "core + edge, retries", "#c5cae9", [
        ("client.py", "Client · chat.completions · embeddings · models"),
    ]),
    ("Pure core", "no I/O, tested alone", "#e0f2f1", [
        ("types.py", "Structs"),
        ("_sansio.py", "URLs, bodies, errors"),
        ("_retry.py", "waits"),
        ("_sse · _stream", "SSE to chunks"),
        ("_info.py", "headers"),
        ("_errors.py", "tree"),
    ]),
    ("I/O edge", "the only aiohttp import", "#fff3e0", [
        ("_transport.py", "session, bounded reads, errors mapped"),
    ]),
    ("Network", "base_url + path_prefix", "#fce4ec", [
        ("models.github.ai", "410 Gone since 2026-07-30"),
        ("Azure AI Foundry", "/models"),
        ("OpenAI-compatible", "vLLM, llama.cpp, Ollama"),
        ("testing.FakeServer", "127.0.0.1"),
    ]),
]


def render() -> str:
    """The SVG document."""
    height = MARGIN * 2 + len(LAYERS) * ROW_H + (len(LAYERS) - 1) * GAP
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" '
        'role="img" aria-label="ghmodels_async layers">',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    box_x0 = MARGIN + LABEL_W
    box_w_total = WIDTH - box_x0 - MARGIN
    for i, (name, note, fill, boxes) in enumerate(LAYERS):
        y = MARGIN + i * (ROW_H + GAP)
        out.append(
            f'<text x="{MARGIN}" y="{y + 26}" font-size="15" font-weight="bold" '
            f'fill="#263238">{escape(name)}</text>'
        )
        out.append(
            f'<text x="{MARGIN}" y="{y + 45}" font-size="11" fill="#546e7a">{escape(note)}</text>'
        )
        inner_gap = 8
        w = (box_w_total - inner_gap * (len(boxes) - 1)) / len(boxes)
        title_size = 13 if len(boxes) < 6 else 12
        for j, (title, sub) in enumerate(boxes):
            x = box_x0 + j * (w + inner_gap)
            cx = x + w / 2
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW_H}" rx="8" '
                f'fill="{fill}" stroke="#90a4ae"/>'
            )
            out.append(
                f'<text x="{cx:.1f}" y="{y + 25}" font-size="{title_size}" font-weight="bold" '
                f'text-anchor="middle" fill="#263238">{escape(title)}</text>'
            )
            out.append(
                f'<text x="{cx:.1f}" y="{y + 43}" font-size="11" text-anchor="middle" '
                f'fill="#455a64">{escape(sub)}</text>'
            )
        if i < len(LAYERS) - 1:
            ax = box_x0 + box_w_total / 2
            out.append(
                f'<path d="M{ax} {y + ROW_H + 2} L{ax} {y + ROW_H + GAP - 2}" '
                'stroke="#607d8b" stroke-width="2"/>'
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
