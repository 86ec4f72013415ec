"""The what-if report as one self-contained HTML file an auditor attaches to a change request.

Charts are SVG drawn here, on the server; styles are inline; nothing is
loaded from anywhere (no script, no font, no image), so the file reads the
same offline, years later. Every differing account is listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

RECORDED, CANDIDATE = "#4e79a7", "#f28e2b"
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:2rem auto;max-width:68rem;
color:#222;line-height:1.4;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.verdict{font-size:1.1rem;padding:.5rem 1rem;border-radius:4px;display:inline-block}
.same{background:#e3f4e3}.differs{background:#fde8d8}.muted{color:#666;font-size:.9rem}
.legend span{display:inline-block;width:.9rem;height:.9rem;margin:0 .3rem -.1rem 1rem}
"""


def render(report: dict[str, Any], store: str = "") -> str:
    """The report (adapters.audit.whatif.whatif_report) as an HTML document."""
    candidate, period = report["candidate"], report["period"]
    differing = report["differing_count"]
    verdict = (
        '<p class="verdict same">No difference: the candidate decides exactly what was decided.</p>'
        if differing == 0
        else f'<p class="verdict differs">{differing} of {report["accounts"]} accounts differ.</p>'
    )
    span = f"{period['from'] or 'the first fact'} to {period['to'] or 'the last fact'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>What-if report: {escape(candidate['version'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>What-if report: <code>{escape(candidate['version'])}</code></h1>",
        f'<p class="muted">candidate digest {escape(candidate["digest"])}<br>'
        f"facts of {escape(span)} (local dates), {report['accounts']} accounts, {report['facts']} facts read, "
        f"{report['facts_decided']} decided again{_store(store)}<br>"
        f"generated {datetime.now(UTC).isoformat(timespec='seconds')} by fengkong audit whatif</p>",
        verdict,
        "<h2>Commands by type</h2>",
        _legend(),
        _grouped_bars(report["commands_by_type"]),
        _side_table("type", report["commands_by_type"]),
        "<h2>Locks</h2>",
        _locks(report["locks"]),
        "<h2>Notices by template</h2>",
        _side_table("template", report["notices"]),
        "<h2>Limit changes</h2>",
        _side_table("change", report["limit_changes"]),
        "<h2>Portfolio at the end of the period</h2>",
        _side_table("total", report["portfolio"]),
        f"<h2>Differing accounts ({differing}, all listed)</h2>",
        _differences(report["differences"]),
        "</body></html>",
    ]
    return "\n".join(parts)


def _store(store: str) -> str:
    return f", store {escape(store)}" if store and "://" not in store else ""


def _legend() -> str:
    return (
        f'<p class="legend"><span style="background:{RECORDED}"></span>recorded (what happened)'
        f'<span style="background:{CANDIDATE}"></span>candidate</p>'
    )


def _grouped_bars(sides: dict[str, dict[str, int]]) -> str:
    """Horizontal bars, two per command type (recorded above candidate)."""
    kinds = sorted(set(sides["recorded"]) | set(sides["candidate"]))
    if not kinds:
        return '<p class="muted">No command on either side.</p>'
    top = max(max(sides["recorded"].values(), default=0), max(sides["candidate"].values(), default=0), 1)
    label, width, bar, gap = 170, 460, 14, 10
    height = len(kinds) * (2 * bar + gap) + gap
    rows = []
    for i, kind in enumerate(kinds):
        y = gap + i * (2 * bar + gap)
        rows.append(f'<text x="{label - 8}" y="{y + bar + 4}" text-anchor="end" font-size="12">{escape(kind)}</text>')
        for j, (side, colour) in enumerate((("recorded", RECORDED), ("candidate", CANDIDATE))):
            count = sides[side].get(kind, 0)
            length = width * count / top
            yy = y + j * bar
            rows.append(f'<rect x="{label}" y="{yy}" width="{length:.1f}" height="{bar - 2}" fill="{colour}"/>')
            rows.append(f'<text x="{label + length + 4:.1f}" y="{yy + bar - 4}" font-size="11">{count}</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="commands by type" '
        f'width="{label + width + 60}" height="{height}">{"".join(rows)}</svg>'
    )


def _histogram(shift_days: dict[str, int]) -> str:
    """Accounts by how many days earlier (negative) or later the candidate's first lock is."""
    if not shift_days:
        return '<p class="muted">No account is locked first on another day under the candidate.</p>'
    days = sorted(int(day) for day in shift_days)
    top = max(shift_days.values())
    column, height, base = 34, 160, 190
    bars = []
    for i, day in enumerate(days):
        count = shift_days[str(day)]
        tall = height * count / top
        x = 40 + i * column
        colour = RECORDED if day < 0 else CANDIDATE
        bars.append(f'<rect x="{x}" y="{base - tall:.1f}" width="{column - 6}" height="{tall:.1f}" fill="{colour}"/>')
        middle = x + (column - 6) / 2
        bars.append(f'<text x="{middle}" y="{base - tall - 4:.1f}" text-anchor="middle" font-size="11">{count}</text>')
        bars.append(
            f'<text x="{x + (column - 6) / 2}" y="{base + 14}" text-anchor="middle" font-size="11">{day:+d}</text>'
        )
    width = 60 + len(days) * column
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="first lock shift in days" '
        f'width="{width}" height="{base + 30}">{"".join(bars)}'
        f'<line x1="36" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#888"/></svg>'
        '<p class="muted">Days between the causes of the first lock (candidate minus recorded, local calendar '
        "days); negative: the candidate locks earlier.</p>"
    )


def _locks(locks: dict[str, Any]) -> str:
    rows = [
        ("LockCard commands", locks["recorded"], locks["candidate"]),
        (
            "accounts locked under this side only",
            len(locks["locked_only_recorded"]),
            len(locks["locked_only_candidate"]),
        ),
    ]
    table = _table(["", "recorded", "candidate"], [[name, str(a), str(b)] for name, a, b in rows])
    shifts = (
        f"<p>First lock earlier under the candidate: {locks['first_lock_earlier']} accounts; "
        f"later: {locks['first_lock_later']} accounts.</p>"
    )
    only = "".join(
        f"<p>Locked under {side} only: {_ids(locks[f'locked_only_{side}'])}</p>" for side in ("recorded", "candidate")
    )
    return table + shifts + _histogram(locks["shift_days"]) + only


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(f"<code>{escape(i)}</code>" for i in ids) if ids else "none"


def _side_table(name: str, sides: dict[str, dict[str, Any]]) -> str:
    keys = list(dict.fromkeys([*sides["recorded"], *sides["candidate"]]))
    if not keys:
        return '<p class="muted">None on either side.</p>'
    rows = [[key, str(sides["recorded"].get(key, "")), str(sides["candidate"].get(key, ""))] for key in keys]
    return _table([name, "recorded", "candidate"], rows)


def _differences(differences: list[dict[str, Any]]) -> str:
    if not differences:
        return "<p>None.</p>"
    rows = []
    for d in differences:
        first = d["first_lock"]
        rows.append(
            [
                d["account_id"],
                _counts(d["commands"]["recorded"]),
                _counts(d["commands"]["candidate"]),
                ", ".join(d["locks"]["recorded"]) or "-",
                ", ".join(d["locks"]["candidate"]) or "-",
                "-" if first is None else f"{first['days']:+d}",
            ]
        )
    return _table(
        [
            "account",
            "recorded commands",
            "candidate commands",
            "locks (recorded)",
            "locks (candidate)",
            "first lock shift",
        ],
        rows,
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.items()) or "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
