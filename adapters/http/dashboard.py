"""A server-rendered chart page for analysts: inline SVG, no scripts, no CDN.

Analysts look at charts rather than tables: delinquent accounts per bucket
over time, the overdue balance, locked cards, today's buckets and the latest
roll-rate matrix, all drawn from the read models on each request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from html import escape

from adapters.store import queries
from adapters.store.tables import ProjectionDatabase
from events.recorded import DELINQUENCY_BUCKETS

WIDTH, HEIGHT, PAD = 640, 220, 40
COLOURS = {
    "current": "#4c9f70",
    "1-30": "#f2c14e",
    "31-60": "#f78154",
    "61-90": "#d1495b",
    "91-180": "#8e3b46",
    "180+": "#3d1e2b",
    "locked": "#2d6cdf",
    "overdue": "#d1495b",
}


def _scale(value: float, top: float, span: float) -> float:
    return span * (value / top) if top else 0.0


def line_chart(title: str, days: Sequence[date], series: Mapping[str, Sequence[float]]) -> str:
    """Lines over business dates, one per series, sharing the y axis."""
    top = max((max(values, default=0) for values in series.values()), default=0) or 1
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">']
    parts.append(f'<text x="{PAD}" y="20" class="t">{escape(title)}</text>')
    parts.append(f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>')
    parts.append(
        f'<text x="4" y="{PAD + 4}" class="l">{top:,.0f}</text><text x="4" y="{HEIGHT - PAD}" class="l">0</text>'
    )
    if days:
        parts.append(f'<text x="{PAD}" y="{HEIGHT - PAD + 16}" class="l">{days[0]}</text>')
        parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" class="l" text-anchor="end">{days[-1]}</text>')
    step = inner_w / max(len(days) - 1, 1)
    for i, (name, values) in enumerate(series.items()):
        points = " ".join(
            f"{PAD + j * step:.1f},{HEIGHT - PAD - _scale(v, top, inner_h):.1f}" for j, v in enumerate(values)
        )
        colour = COLOURS.get(name, "#555")
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(
            f'<rect x="{PAD + i * 90}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{PAD + i * 90 + 14}" y="{HEIGHT - 5}" class="l">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, bars: Sequence[tuple[str, float]]) -> str:
    top = max((value for _, value in bars), default=0) or 1
    inner_h = HEIGHT - 2 * PAD
    width = (WIDTH - 2 * PAD) / max(len(bars), 1)
    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">']
    parts.append(f'<text x="{PAD}" y="20" class="t">{escape(title)}</text>')
    for i, (name, value) in enumerate(bars):
        h = _scale(value, top, inner_h)
        x = PAD + i * width
        middle = f'x="{x + width / 2:.1f}" class="l" text-anchor="middle"'
        parts.append(
            f'<rect x="{x + 6:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{width - 12:.1f}" height="{h:.1f}" '
            f'fill="{COLOURS.get(name, "#555")}"><title>{escape(name)}: {value:,.0f}</title></rect>'
            f'<text {middle} y="{HEIGHT - PAD + 16}">{escape(name)}</text>'
            f'<text {middle} y="{HEIGHT - PAD - h - 4:.1f}">{value:,.0f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def roll_rate_table(closed: date | None, rows: Sequence[dict[str, object]]) -> str:
    if closed is None:
        return "<p>No business date closed yet.</p>"
    cells = {(str(row["from_bucket"]), str(row["to_bucket"])): row for row in rows}
    head = "".join(f"<th>{escape(b)}</th>" for b in DELINQUENCY_BUCKETS)
    body = []
    for source in DELINQUENCY_BUCKETS:
        line = [f"<th>{escape(source)}</th>"]
        for target in DELINQUENCY_BUCKETS:
            cell = cells.get((source, target))
            rate = cell.get("rate") if cell else None
            if isinstance(rate, float):
                shade = int(255 - 155 * rate)
                line.append(f'<td style="background:rgb({shade},{shade},255)">{rate:.0%} ({cell["accounts"]})</td>')  # type: ignore[index]
            else:
                line.append("<td></td>")
        body.append(f"<tr>{''.join(line)}</tr>")
    return f"<h2>Roll rates into {closed}</h2><table><tr><th>from \\ to</th>{head}</tr>{''.join(body)}</table>"


def render_dashboard(db: ProjectionDatabase) -> str:
    daily = queries.delinquency_daily(db)
    days = sorted({row["business_date"] for row in daily})
    counts = {(row["business_date"], row["bucket"]): row for row in daily}
    delinquent = {
        bucket: [float(counts[(day, bucket)]["accounts"]) for day in days] for bucket in DELINQUENCY_BUCKETS[1:]
    }
    overdue = [
        float(sum((counts[(day, b)]["overdue_balance"] for b in DELINQUENCY_BUCKETS), Decimal(0))) for day in days
    ]
    locked = queries.locked_over_time(db)
    latest = days[-1] if days else None
    bars = [(bucket, float(counts[(latest, bucket)]["accounts"])) for bucket in DELINQUENCY_BUCKETS] if latest else []
    closed, matrix = queries.roll_rates(db)
    charts = [
        bar_chart(f"Accounts per bucket on {latest}" if latest else "Accounts per bucket", bars),
        line_chart("Delinquent accounts per bucket", days, delinquent),
        line_chart("Overdue balance", days, {"overdue": overdue}),
        line_chart("Locked cards", [day for day, _ in locked], {"locked": [float(n) for _, n in locked]}),
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fengkong portfolio</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
svg {{ width: 100%; max-width: {WIDTH}px; display: block; margin: 1em 0; }}
.t {{ font-size: 14px; font-weight: 600; }} .l {{ font-size: 10px; fill: #555; }}
.axis {{ stroke: #999; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; font-size: 12px; text-align: right; }}
</style></head><body>
<h1>fengkong portfolio</h1>
<p>{len(days)} business dates closed. Figures come from the read models; see <a href="/docs">the API</a>.</p>
{"".join(charts)}
{roll_rate_table(closed, matrix)}
</body></html>"""
