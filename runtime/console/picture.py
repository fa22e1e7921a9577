"""The college's architecture picture as SVG, drawn on the server: the same graph as
``koppel catalog --format mermaid`` (every system of catalog.yaml, an arrow per interface), each
system filled with its state. No JavaScript and no diagram library in the browser: the SIS in the
middle, the other systems evenly along a rectangle around it in catalog order, arrows from source to target
labelled with the interface's number (dashed for a planned one)."""

from __future__ import annotations

import math
from html import escape

FILL = {"green": "#d8efe0", "amber": "#fff1c7", "red": "#f9d6d6", "grey": "#eceef2"}
STROKE = {"green": "#2e8b57", "amber": "#d99a00", "red": "#c62828", "grey": "#9aa3af"}
WIDTH, HEIGHT, MARGIN_X, MARGIN_Y, BOX_W, BOX_H = 1100, 820, 70, 30, 118, 34


def architecture_svg(project, systems: list[dict]) -> str:
    catalog = project.catalog
    centre = "sis" if "sis" in catalog.systems else next(iter(catalog.systems), "")
    others = [s for s in systems if s["key"] != centre]
    at: dict[str, tuple[float, float]] = {centre: (WIDTH / 2, HEIGHT / 2)}
    for i, system in enumerate(others):
        at[system["key"]] = _on_perimeter(i / max(1, len(others)))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             'aria-label="Architecture: systems and interfaces" id="architecture">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280"/></marker></defs>']
    planned = {i for i, f in project.interfaces.items() if getattr(f, "status", "active") == "planned"}
    pairs: dict[tuple[str, str], list[int]] = {}  # one arrow per direction between two systems
    for row in catalog.interfaces:
        for source in row.source_systems:
            for target in row.target_systems:
                if source in at and target in at and source != target:
                    pairs.setdefault((source, target), []).append(row.id)
    for (source, target), numbers in pairs.items():
        parts.append(_edge(at[source], at[target], numbers, all(n in planned for n in numbers)))
    for system in systems:
        if system["key"] in at:
            parts.append(_node(at[system["key"]], system))
    parts.append("</svg>")
    return "\n".join(parts)


def _on_perimeter(fraction: float) -> tuple[float, float]:
    """A point ``fraction`` of the way around the rectangle of boxes, clockwise from the top left:
    a rectangle gives the wide boxes room side by side, where a circle crowds them at the top."""
    w, h = WIDTH - 2 * MARGIN_X - BOX_W, HEIGHT - 2 * MARGIN_Y - BOX_H
    x0, y0 = MARGIN_X + BOX_W / 2, MARGIN_Y + BOX_H / 2
    d = fraction * 2 * (w + h)
    if d < w:
        return x0 + d, y0
    if d < w + h:
        return x0 + w, y0 + d - w
    if d < 2 * w + h:
        return x0 + w - (d - w - h), y0 + h
    return x0, y0 + h - (d - 2 * w - h)


def _edge(a: tuple[float, float], b: tuple[float, float], numbers: list[int], planned: bool) -> str:
    (x1, y1), (x2, y2) = _trim(a, b), _trim(b, a)
    dash = ' stroke-dasharray="5 4"' if planned else ""
    # the label nearer the source, so the two directions between a pair keep theirs apart
    mx, my = x1 + 0.4 * (x2 - x1), y1 + 0.4 * (y2 - y1)
    label = ", ".join(str(n) for n in numbers)
    groups = "".join(f'<g class="interface" data-interface="{n}"></g>' for n in numbers)
    return (f'<g class="arrow">{groups}<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#9aa3af" '
            f'stroke-width="1.2"{dash} marker-end="url(#arrow)"/><text x="{mx:.0f}" y="{my:.0f}" font-size="10" '
            f'fill="#374151" text-anchor="middle">{label}</text></g>')


def _trim(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """Where the line from a's centre towards b leaves a's box, so arrows end at the boxes."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    scale = min((BOX_W / 2) / abs(dx) if dx else math.inf, (BOX_H / 2) / abs(dy) if dy else math.inf)
    return a[0] + dx * scale, a[1] + dy * scale


def _node(centre: tuple[float, float], system: dict) -> str:
    x, y = centre[0] - BOX_W / 2, centre[1] - BOX_H / 2
    rag = system.get("rag", "grey")
    name = escape(str(system.get("name") or system["key"]))
    return (f'<g class="system {rag}" data-system="{escape(system["key"])}"><title>{name}: {rag}</title>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{FILL.get(rag, FILL["grey"])}" '
            f'stroke="{STROKE.get(rag, STROKE["grey"])}" stroke-width="1.5"/>'
            f'<text x="{centre[0]:.0f}" y="{centre[1] + 4:.0f}" font-size="11" text-anchor="middle" fill="#111827">'
            f'{name[:20]}</text></g>')
