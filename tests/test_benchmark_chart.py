"""benchmarks/chart.py: the SVG and table drawn from a benchmarks.run --json document."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from benchmarks import chart

SVG = "{http://www.w3.org/2000/svg}"


def _doc() -> dict[str, object]:
    return {
        "machine": {"date": "2026-11-27 11:00 UTC", "nproc": 2, "python": "3.11.7"},
        "settings": {"calls": 100, "stream_calls": 5, "chunks": 20, "concurrency": 4},
        "clients": {
            "raw_aiohttp": {"cpu_per_call_us": 100.0, "cpu_per_chunk_us": 2.0,
                            "peak_rss_mb": None, "import_ms": 40.0, "skipped": None},
            "ghmodels_async": {"cpu_per_call_us": 150.0, "cpu_per_chunk_us": 3.0,
                               "peak_rss_mb": None, "import_ms": 45.0, "skipped": None},
            "openai": {"cpu_per_call_us": 1500.0, "cpu_per_chunk_us": 60.0,
                       "peak_rss_mb": None, "import_ms": 400.0, "skipped": None},
            "azure_ai_inference": {"cpu_per_call_us": None, "skipped": "not installed"},
        },
    }  # fmt: skip


def _bars(svg: str) -> dict[str, list[tuple[str, float]]]:
    """Bar widths by their tooltip, grouped by panel title, from the parsed SVG."""
    root = ET.fromstring(svg)
    panels: dict[str, list[tuple[str, float]]] = {}
    current = ""
    for el in root:
        if el.tag == SVG + "text" and el.get("font-size") == "13":
            current = el.text or ""
            panels[current] = []
        elif el.tag == SVG + "rect" and el.find(SVG + "title") is not None:
            title = el.find(SVG + "title").text or ""  # type: ignore[union-attr]
            panels[current].append((title, float(el.get("width", "0"))))
    return panels


def test_bars_are_proportional_and_skipped_or_missing_figures_are_left_out() -> None:
    panels = _bars(chart.render_svg(_doc()))
    assert list(panels) == [p.title for p in chart.PANELS if p.key != "peak_rss_mb"]
    per_call = panels[chart.PANELS[0].title]
    assert [t.split(":")[0] for t, _ in per_call] == ["raw_aiohttp", "ghmodels_async", "openai"]
    widths = [w for _, w in per_call]
    assert widths[1] / widths[2] == pytest.approx(150 / 1500, rel=1e-3)
    assert widths[0] / widths[2] == pytest.approx(100 / 1500, rel=1e-3)


def test_same_json_gives_the_same_bytes_and_escapes_names() -> None:
    doc = _doc()
    doc["clients"]["<b>&"] = {"cpu_per_call_us": 10.0}  # type: ignore[index]
    first = chart.render_svg(doc)
    assert first == chart.render_svg(json.loads(json.dumps(doc)))
    assert "<b>&" not in first
    ET.fromstring(first)  # still well-formed


def test_markdown_table_has_a_row_per_measured_client() -> None:
    table = chart.render_markdown(_doc()).splitlines()
    assert table[2].startswith("| raw_aiohttp | 100 | 2.0 | - | 40 |")
    assert len(table) == 2 + 3


def test_command_line_writes_the_file_and_refuses_other_json(tmp_path: Path) -> None:
    source = tmp_path / "run.json"
    source.write_text(json.dumps(_doc()))
    out = tmp_path / "img" / "chart.svg"
    assert chart.main([str(source), "-o", str(out)]) == 0
    assert out.read_text() == chart.render_svg(_doc())
    other = tmp_path / "other.json"
    other.write_text("[1, 2]")
    assert chart.main([str(other)]) == 2
