"""Pure functions: service aggregates → plotly figures as JSON (safe to embed in a <script> data block).

Suppressed figures are drawn as gaps in a neutral grey with a legend entry, never as zero: bars are
left out and marked 秘匿, heatmap cells stay empty over a grey background, tiles turn grey.
Each figure is assembled as traces and a layout, then built (and validated) by go.Figure in one call:
that is several times faster than adding traces and updating the layout step by step."""

import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import overload

import plotly.graph_objects as go
import plotly.io as pio

from pmo import periods
from pmo.dashboard.tiles import N_COLS, N_ROWS, TILES, short_name
from pmo.labels import STATUS_COLORS, STATUS_LABELS, fiscal_year_ja, month_ja

FONT = "Noto Sans CJK JP, Noto Sans JP, Hiragino Sans, Hiragino Kaku Gothic ProN, Yu Gothic, Meiryo, sans-serif"
GAP = "#b9bec7"  # the colour of a suppressed cell; no colour scale below uses grey
SCALE = [[0.0, "#fff5d1"], [0.35, "#a8d8b0"], [0.7, "#3f9a9c"], [1.0, "#1d3f7a"]]
DELAYED, ON_TRACK = "#c8424f", "#3f7fbf"
TARGET_PERIOD = 202603  # FY2025 (令和7年度) ends: every system migrated
# Our own small template, built once (plotly's named templates are rebuilt and validated per figure).
TEMPLATE = go.layout.Template(
    layout={
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hovermode": "closest",
        "xaxis": {"gridcolor": "#e6e9ee", "linecolor": "#c9ced6", "zeroline": False, "automargin": True},
        "yaxis": {"gridcolor": "#e6e9ee", "linecolor": "#c9ced6", "zeroline": False, "automargin": True},
    }
)


def _json(traces: list[dict], layout: dict) -> str:
    """Build the figure and serialise it so that it cannot close the <script> element it is embedded in."""
    base = {
        "template": TEMPLATE,
        "font": {"family": FONT, "size": 12},
        "separators": ".,",
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "hoverlabel": {"font": {"family": FONT}},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
    }
    text: str = pio.to_json(go.Figure(data=traces, layout={**base, **layout}), validate=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _gap_legend(k: int) -> dict:
    """A legend entry explaining grey gaps: hidden figures, not zeros."""
    return {
        "type": "scatter",
        "x": [None],
        "y": [None],
        "mode": "markers",
        "hoverinfo": "skip",
        "name": f"秘匿（{k}団体未満の集団等。0ではありません）",
        "marker": {"symbol": "square", "size": 14, "color": GAP},
    }


def _gap_marks(places: list[tuple]) -> list[dict]:
    """'秘匿' labels where bars were left out."""
    return [
        {"x": x, "y": y, "text": "秘匿", "showarrow": False, "bgcolor": GAP, "font": {"color": "#222"}}
        for x, y in places
    ]


def _all_hidden(cells: list[dict], places: Sequence[tuple] = ()) -> list[dict]:
    """A note in the middle when every figure is suppressed; otherwise '秘匿' at each gap (places)."""
    if not cells or not all(c["suppressed"] for c in cells):
        return _gap_marks(list(places))
    return [
        {
            "x": 0.5,
            "y": 0.5,
            "xref": "paper",
            "yref": "paper",
            "showarrow": False,
            "bgcolor": "white",
            "text": "この条件の値はすべて秘匿しています",
            "font": {"size": 14},
        }
    ]


@overload
def _pct(value: float) -> float: ...
@overload
def _pct(value: None) -> None: ...
@overload
def _pct(value: float | None) -> float | None: ...


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def operation_bars(cells: list[dict], op_names: dict[str, str], k: int) -> str:
    """Completion by operation: stacked 完了 / 作業中 / 未着手 shares per operation."""
    labels = [op_names.get(c["operation"], c["operation"]) for c in cells]
    reach = [[c["n_bodies"], c.get("n_reported")] for c in cells]
    traces = []
    for key, status in (
        ("completion_rate", "done"),
        ("in_progress_rate", "in_progress"),
        ("not_started_rate", "not_started"),
    ):
        name = STATUS_LABELS[status] + ("（対象外を含む）" if status == "done" else "")
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "x": [_pct(c[key]) for c in cells],
                "y": labels,
                "name": name,
                "marker": {"color": STATUS_COLORS[status]},
                "customdata": reach,
                "hovertemplate": "%{y}<br>"
                + STATUS_LABELS[status]
                + " %{x:.1f}%<br>対象 %{customdata[0]}団体・報告 %{customdata[1]}団体<extra></extra>",
            }
        )
    gaps = [(50, label) for c, label in zip(cells, labels, strict=True) if c["suppressed"]]
    return _json(
        traces + ([_gap_legend(k)] if gaps else []),
        {
            "height": 120 + 26 * len(cells),
            "barmode": "stack",
            "xaxis": {"range": [0, 100.5], "ticksuffix": "%"},
            "yaxis": {"autorange": "reversed"},
            "annotations": _all_hidden(cells, gaps),
        },
    )


def step_heatmap(cells: list[dict], op_names: dict[str, str], step_names: dict[str, str], k: int) -> str:
    """Operation × step: the share of systems that have completed each step (20 × 40)."""
    ops = list(dict.fromkeys(c["operation"] for c in cells))
    steps = list(dict.fromkeys(c["step"] for c in cells))
    z: list[list[float | None]] = [[None] * len(steps) for _ in ops]
    for c in cells:
        z[ops.index(c["operation"])][steps.index(c["step"])] = _pct(c["completion_rate"])
    labels = [op_names.get(o, o) for o in ops]
    trace = {
        "type": "heatmap",
        "z": z,
        "x": steps,
        "y": labels,
        "zmin": 0,
        "zmax": 100,
        "colorscale": SCALE,
        "xgap": 1,
        "ygap": 1,
        "hoverongaps": False,
        "text": [[step_names.get(s, s) for s in steps] for _ in ops],
        "colorbar": {"title": {"text": "完了"}, "ticksuffix": "%", "len": 0.9},
        "hovertemplate": "%{y}<br>%{x} %{text}<br>完了 %{z:.1f}%<extra></extra>",
    }
    hidden = any(c["suppressed"] for c in cells)
    table = _named_grid(labels, steps, step_names, [[_table_value(v) for v in row] for row in z])
    return _json(
        [trace] + ([_gap_legend(k)] if hidden else []),
        {
            "meta": {"table": table},
            "height": 140 + 24 * len(ops),
            "plot_bgcolor": GAP,
            "annotations": _all_hidden(cells),
            # Explicit ranges: the full 20 × 40 frame shows even when every cell is hidden.
            "yaxis": {"type": "category", "categoryarray": labels, "range": [len(ops) - 0.5, -0.5]},
            "xaxis": {
                "side": "top",
                "tickangle": 0,
                "dtick": 2,
                "type": "category",
                "categoryarray": steps,
                "range": [-0.5, len(steps) - 0.5],
            },
        },
    )


def trend(cells: list[dict], k: int, start: int) -> str:
    """Completion since tracking began, against the FY2025 target (100 % of systems by 2026-03)."""
    x = [f"{c['period']}-01" for c in cells]
    y = [_pct(c["completion_rate"]) for c in cells]
    end = periods.parse_valid(cells[-1]["period"]) if cells else start
    target_x = f"{periods.fmt(TARGET_PERIOD)}-01"
    first = next(((xv, yv) for xv, yv in zip(x, y, strict=True) if yv is not None), (f"{periods.fmt(start)}-01", 0))
    traces: list[dict] = [
        {
            "type": "scatter",
            "x": x,
            "y": y,
            "mode": "lines+markers",
            "name": "完了率（実績）",
            "connectgaps": False,
            "line": {"color": ON_TRACK, "width": 3},
            "marker": {"size": 5},
            "customdata": [fiscal_year_ja(c["fiscal_year"]) for c in cells],
            "hovertemplate": "%{x|%Y年%-m月}（%{customdata}）<br>完了率 %{y:.1f}%<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [first[0], target_x],
            "y": [first[1], 100],
            "mode": "lines+markers",
            "name": f"目標：{fiscal_year_ja(2025)}末（{month_ja(TARGET_PERIOD)}）に100%",
            "line": {"color": DELAYED, "dash": "dash"},
            "marker": {"symbol": ["circle-open", "star"], "size": [6, 16]},
            "hovertemplate": "目標 %{y:.0f}%<extra></extra>",
        },
    ]
    if any(c["suppressed"] for c in cells):
        traces.append(_gap_legend(k))
    return _json(
        traces,
        {
            "height": 360,
            "yaxis": {"range": [0, 105], "ticksuffix": "%"},
            "xaxis": {
                "tickformat": "%Y年%-m月",
                "dtick": "M6",
                "range": [
                    f"{periods.fmt(start)}-01",
                    f"{periods.fmt(periods.add_months(max(end, TARGET_PERIOD), 1))}-01",
                ],
            },
            "shapes": [
                {
                    "type": "line",
                    "x0": target_x,
                    "x1": target_x,
                    "y0": 0,
                    "y1": 1,
                    "yref": "paper",
                    "line": {"color": DELAYED, "dash": "dot", "width": 1},
                }
            ],
            "annotations": _all_hidden(cells),
        },
    )


def distribution(dist: dict, gap_points: float = 0.2) -> str:
    """Bodies per band of completion; the delayed cohort (bands ≥ 20 points below the median) in red."""
    bins = dist["bins"]
    median = dist["median_completion"]
    delayed = [median is not None and b["upper"] <= median - gap_points for b in bins]
    labels = [b["bin"] for b in bins]
    n_delayed = sum(b["n_bodies"] or 0 for b, d in zip(bins, delayed, strict=True) if d)
    traces = [
        {
            "type": "bar",
            "x": labels,
            "y": [b["n_bodies"] if d == flag else None for b, d in zip(bins, delayed, strict=True)],
            "name": name,
            "marker": {"color": color},
            "hovertemplate": "完了率 %{x}<br>%{y:,}団体<extra></extra>",
        }
        for flag, name, color in (
            (True, f"遅延層（中央値より{gap_points * 100:.0f}ポイント以上低い）{n_delayed:,}団体", DELAYED),
            (False, "その他の団体", ON_TRACK),
        )
    ]
    top = max((b["n_bodies"] or 0 for b in bins), default=0)
    gaps = [(b["bin"], top * 0.05) for b in bins if b["suppressed"]]
    notes = (
        []
        if median is None
        else [
            {
                "x": 0.01,
                "y": 0.98,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "top",
                "text": f"平均 {dist['mean_completion'] * 100:.1f}%　中央値 {median * 100:.1f}%",
            }
        ]
    )
    return _json(
        traces + ([_gap_legend(dist["k"])] if gaps else []),
        {
            "height": 340,
            "barmode": "overlay",
            "bargap": 0.08,
            "yaxis": {"title": {"text": "団体数"}},
            "xaxis": {"title": {"text": "完了率"}},
            "annotations": _gap_marks(gaps) + notes,
        },
    )


def reporting(cells: list[dict], pref_names: dict[str, str], k: int, highlight: str | None = None) -> str:
    """Reports on time, late and missing as shares of each prefecture's bodies."""
    labels = [
        ("▶" if c["prefecture"] == highlight else "") + short_name(pref_names.get(c["prefecture"], c["prefecture"]))
        for c in cells
    ]
    traces = [
        {
            "type": "bar",
            "x": labels,
            "name": name,
            "marker": {"color": color},
            "y": [None if c["suppressed"] else round(100 * c[key] / c["n_bodies"], 2) for c in cells],
            "customdata": [[c[key], c["n_bodies"]] for c in cells],
            "hovertemplate": "%{x}<br>"
            + name
            + " %{customdata[0]}団体 / %{customdata[1]}団体（%{y:.1f}%）<extra></extra>",
        }
        for key, name, color in (
            ("on_time", "期限内", ON_TRACK),
            ("late", "期限後", STATUS_COLORS["in_progress"]),
            ("pending", "受付中", STATUS_COLORS["not_started"]),
            ("missing", "未報告", DELAYED),
        )
        if key != "pending" or any(c["pending"] for c in cells)
    ]
    gaps = [(label, 50) for c, label in zip(cells, labels, strict=True) if c["suppressed"]]
    return _json(
        traces + ([_gap_legend(k)] if gaps else []),
        {
            "height": 360,
            "barmode": "stack",
            "yaxis": {"range": [0, 100], "ticksuffix": "%"},
            "xaxis": {"tickangle": -90},
            "annotations": _gap_marks(gaps),
        },
    )


def deferred_systems(cells: list[dict], reason_labels: dict[str, str], k: int) -> str:
    """特定移行支援システム by reason: systems, and bodies that have at least one."""
    labels = [reason_labels.get(c["reason"], c["reason"]) for c in cells]
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": [c["deferred_systems"] for c in cells],
        "y": labels,
        "name": "特定移行支援システム",
        "marker": {"color": DELAYED},
        "customdata": [c["bodies_with_deferred"] for c in cells],
        "text": [
            None if c["suppressed"] else f"{c['deferred_systems']:,}件（{c['bodies_with_deferred']:,}団体）"
            for c in cells
        ],
        "textposition": "auto",
        "hovertemplate": "%{y}<br>%{x:,}システム・%{customdata:,}団体<extra></extra>",
    }
    top = max((c["deferred_systems"] or 0 for c in cells), default=0)
    gaps = [(top * 0.1 or 1, label) for c, label in zip(cells, labels, strict=True) if c["suppressed"]]
    return _json(
        [trace] + ([_gap_legend(k)] if gaps else []),
        {
            "height": 120 + 40 * max(len(cells), 1),
            "yaxis": {"autorange": "reversed"},
            "xaxis": {"title": {"text": "システム数"}},
            "annotations": _all_hidden(cells, gaps),
        },
    )


def tile_map(cells: list[dict], pref_names: dict[str, str], k: int, highlight: str | None = None) -> str:
    """47 prefectures as tiles coloured by completion; suppressed prefectures grey."""
    z: list[list[float | None]] = [[None] * N_COLS for _ in range(N_ROWS)]
    hidden: list[list[int | None]] = [[None] * N_COLS for _ in range(N_ROWS)]
    empty: list[list[int | None]] = [[None] * N_COLS for _ in range(N_ROWS)]
    text = [[""] * N_COLS for _ in range(N_ROWS)]
    for code, (r, col) in TILES.items():  # prefectures without such bodies stay visible, marked なし
        empty[r][col], text[r][col] = 1, f"{short_name(pref_names.get(code, code))}<br>なし"
    values: list[float] = []
    table_rows: list[list[str]] = []
    for c in cells:
        if c["prefecture"] not in TILES:
            continue
        r, col = TILES[c["prefecture"]]
        empty[r][col] = None
        name = short_name(pref_names.get(c["prefecture"], c["prefecture"]))
        if c["suppressed"]:
            hidden[r][col], text[r][col] = 1, f"{name}<br>秘匿"
            table_rows.append([pref_names.get(c["prefecture"], name), "秘匿"])
        else:
            rate: float = _pct(c["completion_rate"])  # a figure that is not suppressed is never null
            z[r][col] = rate
            values.append(rate)
            text[r][col] = f"{name}<br>{rate:.0f}%"
            table_rows.append([pref_names.get(c["prefecture"], name), f"{rate:.1f}%"])
    low = max(0, 5 * int(min(values) // 5) - 5) if values else 0
    tiles = {
        "type": "heatmap",
        "text": text,
        "texttemplate": "%{text}",
        "textfont": {"size": 10},
        "xgap": 3,
        "ygap": 3,
        "hoverongaps": False,
        "hovertemplate": "%{text}<extra></extra>",
    }
    traces = [
        {
            **tiles,
            "z": z,
            "zmin": low,
            "zmax": 100,
            "colorscale": SCALE,
            "colorbar": {"title": {"text": "完了率"}, "ticksuffix": "%", "len": 0.8},
        }
    ]
    if any(v is not None for row in empty for v in row):
        traces.append(
            {
                **tiles,
                "z": empty,
                "showscale": False,
                "colorscale": [[0, "#f1f3f5"], [1, "#f1f3f5"]],
                "textfont": {"size": 10, "color": "#8a939f"},
            }
        )
    if any(v is not None for row in hidden for v in row):
        traces += [{**tiles, "z": hidden, "showscale": False, "colorscale": [[0, GAP], [1, GAP]]}, _gap_legend(k)]
    shapes = []
    if highlight in TILES:
        r, col = TILES[highlight]
        shapes.append(
            {
                "type": "rect",
                "x0": col - 0.5,
                "x1": col + 0.5,
                "y0": r - 0.5,
                "y1": r + 0.5,
                "line": {"color": "#111", "width": 3},
            }
        )
    return _json(
        traces,
        {
            "height": 480,
            "plot_bgcolor": "white",
            "shapes": shapes,
            "meta": {"table": {"headers": ["都道府県", "完了率"], "rows": table_rows}},
            "showlegend": any(t["type"] == "scatter" for t in traces),
            "xaxis": {"visible": False, "range": [-0.6, N_COLS - 0.4]},
            "yaxis": {"visible": False, "autorange": "reversed", "scaleanchor": "x"},
        },
    )


def municipality_heatmap(rows: list[dict], op_names: dict[str, str]) -> str:
    """A prefecture's municipalities × operations, coloured by each system's completion."""
    ops = list(op_names)
    z = [
        [_pct({o["operation"]: o["completion_rate"] for o in row["operations"]}.get(op)) for op in ops] for row in rows
    ]
    trace = {
        "type": "heatmap",
        "z": z,
        "x": [op_names[o] for o in ops],
        "y": [row["name"] for row in rows],
        "zmin": 0,
        "zmax": 100,
        "colorscale": SCALE,
        "xgap": 1,
        "ygap": 1,
        "hoverongaps": False,
        "colorbar": {"title": {"text": "完了率"}, "ticksuffix": "%", "len": 0.6, "y": 1, "yanchor": "top"},
        "hovertemplate": "%{y}<br>%{x} 完了率 %{z:.0f}%<extra></extra>",
    }
    return _json(
        [trace],
        {
            "height": 150 + 18 * len(rows),
            "plot_bgcolor": GAP,
            "yaxis": {"autorange": "reversed", "tickfont": {"size": 11}},
            "xaxis": {"side": "top", "tickangle": -45},
        },
    )


def body_progress(progress: dict, op_names: dict[str, str], step_names: dict[str, str]) -> str:
    """One body's steps per operation: done, not applicable, in progress, not started (of 40)."""
    ops = progress["operations"]
    labels = [op_names.get(o["operation"], o["operation"]) for o in ops]
    extra = [
        [
            round(o["completion_rate"] * 100, 1),
            step_names.get(o["completed_through"], "—") if o["completed_through"] else "—",
        ]
        for o in ops
    ]
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "x": [o[status] for o in ops],
            "y": labels,
            "name": STATUS_LABELS[status],
            "marker": {"color": STATUS_COLORS[status]},
            "customdata": extra,
            "hovertemplate": "%{y}<br>" + STATUS_LABELS[status] + " %{x}ステップ<br>完了率 %{customdata[0]}%"
            "<br>連続完了 %{customdata[1]}まで<extra></extra>",
        }
        for status in ("done", "not_applicable", "in_progress", "not_started")
    ]
    return _json(
        traces,
        {
            "height": 120 + 26 * len(ops),
            "barmode": "stack",
            "yaxis": {"autorange": "reversed"},
            "xaxis": {"range": [0, 40], "title": {"text": "ステップ数（全40）"}},
        },
    )


STATUS_ORDER = ("done", "in_progress", "not_started", "not_applicable")  # as the summaries count them


def status_grid(cells: list[dict], op_names: dict[str, str], step_names: dict[str, str]) -> str:
    """One body's grid as of a period: every operation × step coloured by its status."""
    order = ("not_started", "in_progress", "done", "not_applicable")
    ops = list(dict.fromkeys(c["operation"] for c in cells))
    steps = list(dict.fromkeys(c["step"] for c in cells))
    z: list[list[int | None]] = [[None] * len(steps) for _ in ops]
    text = [[""] * len(steps) for _ in ops]
    for c in cells:
        i, j = ops.index(c["operation"]), steps.index(c["step"])
        z[i][j] = order.index(c["status"])
        due = f" 完了予定 {month_ja(c['planned_end'])}" if c.get("planned_end") else ""
        text[i][j] = f"{step_names.get(c['step'], c['step'])}：{STATUS_LABELS[c['status']]}{due}"
    n = len(order)
    trace = {
        "type": "heatmap",
        "z": z,
        "x": steps,
        "y": [op_names.get(o, o) for o in ops],
        "text": text,
        "zmin": -0.5,
        "zmax": n - 0.5,
        "xgap": 1,
        "ygap": 1,
        "colorscale": [[v, STATUS_COLORS[s]] for i, s in enumerate(order) for v in (i / n, (i + 1) / n)],
        "colorbar": {"tickvals": list(range(n)), "ticktext": [STATUS_LABELS[s] for s in order], "len": 0.8},
        "hovertemplate": "%{y} %{x}<br>%{text}<extra></extra>",
    }
    statuses = [["—" if v is None else STATUS_LABELS[order[v]] for v in row] for row in z]
    table = _named_grid([op_names.get(o, o) for o in ops], steps, step_names, statuses)
    counts = Counter(c["status"] for c in cells)
    said = "、".join(f"{STATUS_LABELS[s]} {counts[s]:,}" for s in STATUS_ORDER)
    return _json(
        [trace],
        {
            "meta": {"table": table, "summary": f"{len(ops)} 業務 × {len(steps)} ステップのうち {said}。"},
            "height": 140 + 24 * len(ops),
            "yaxis": {"autorange": "reversed"},
            "xaxis": {"side": "top", "dtick": 2},
        },
    )


def _named_grid(rows: list[str], steps: list[str], step_names: dict[str, str], values: list[list[str]]) -> dict:
    """An operation × step table whose column heads carry each step's name, not only its code."""
    headers = ["", *(f"{s} {step_names[s]}" if s in step_names else s for s in steps)]
    return {"headers": headers, "rows": [[label, *row] for label, row in zip(rows, values, strict=True)]}


_DAY = re.compile(r"^(\d{4})-(\d{2})-01$")


def _table_label(value: object) -> str:
    """A category as the table shows it: months (plotly dates) in Japanese, anything else as text."""
    text = str(value)
    day = _DAY.match(text)
    return month_ja(f"{day.group(1)}-{day.group(2)}") if day else text


def _table_value(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) or float(value).is_integer() else f"{value:,.1f}"


def data_table(figure: str) -> dict | None:
    """The values a chart shows (most of them only on hover) as a table: headers and rows, for the table
    beside each chart — screen readers, keyboards and anyone who wants the numbers. A figure may carry its
    own (layout.meta.table); else bars and lines give a row per category and a column per series, a heatmap
    its grid."""
    parsed = json.loads(figure)
    meta = (parsed.get("layout") or {}).get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("table"), dict):
        table: dict = meta["table"]
        return table
    traces = [t for t in parsed.get("data", []) if t.get("type") in ("bar", "scatter", "heatmap")]
    heat = next((t for t in traces if t["type"] == "heatmap" and t.get("x") and t.get("y")), None)
    if heat is not None:
        rows = [
            [_table_label(y), *(_table_value(v) for v in row)] for y, row in zip(heat["y"], heat["z"], strict=False)
        ]
        return {"headers": ["", *map(str, heat["x"])], "rows": rows}
    series = [t for t in traces if t["type"] != "heatmap" and t.get("x") is not None and t.get("y") is not None]
    if not series:
        return None
    by_category: dict[str, dict[str, str]] = {}
    for t in series:
        categories, values = (t["y"], t["x"]) if t.get("orientation") == "h" else (t["x"], t["y"])
        for category, value in zip(categories, values, strict=False):
            by_category.setdefault(_table_label(category), {})[t.get("name") or ""] = _table_value(value)
    names = list(dict.fromkeys(t.get("name") or "" for t in series))
    return {
        "headers": ["", *names],
        "rows": [[category, *(values.get(n, "—") for n in names)] for category, values in by_category.items()],
    }


def summary(figure: str) -> str | None:
    """One or two sentences on what a chart shows, read from its table: a series over months from its first
    to its last value, other series their highest and lowest category, a grid its highest and lowest cell.
    Shown under the chart and named by the chart's aria-describedby."""
    parsed = json.loads(figure)
    meta = (parsed.get("layout") or {}).get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("summary"), str):
        return str(meta["summary"])
    table = data_table(figure)
    if not table or not table["rows"]:
        return None
    headers, rows = table["headers"], table["rows"]
    is_grid = any(t.get("type") == "heatmap" for t in parsed.get("data", [])) and len(headers) > 3
    if is_grid:
        cells = [(v, row[0], headers[j]) for row in rows for j, v in enumerate(row[1:], 1) if _number(v) is not None]
        if not cells:
            return "すべてのマスが秘匿または値なしです。"
        lowest, highest = min(cells, key=lambda c: _number(c[0]) or 0), max(cells, key=lambda c: _number(c[0]) or 0)
        return (
            f"最も低いのは {lowest[1]}・{lowest[2]}（{lowest[0]}）、"
            f"最も高いのは {highest[1]}・{highest[2]}（{highest[0]}）。"
        )
    over_months = all(_DAY_JA.match(str(row[0])) for row in rows)
    parts = []
    for j, name in enumerate(headers[1 : 2 if over_months else 4], 1):  # a month series: its first line only
        values = [(row[0], row[j]) for row in rows if _number(row[j]) is not None]
        if not values:
            continue
        label = f"{name}：" if name else ""
        if over_months:
            (first, v0), (last, v1) = values[0], values[-1]
            parts.append(f"{label}{first} {v0} から {last} {v1}")
        else:
            high = max(values, key=lambda v: _number(v[1]) or 0)
            low = min(values, key=lambda v: _number(v[1]) or 0)
            if _number(high[1]) == _number(low[1]):
                parts.append(f"{label}すべて {high[1]}")
                continue
            parts.append(f"{label}最も高いのは {high[0]}（{high[1]}）、最も低いのは {low[0]}（{low[1]}）")
    return "。".join(parts) + "。" if parts else None


_DAY_JA = re.compile(r"^\d{4}年\d{1,2}月$")


def _number(text: object) -> float | None:
    """A table value back as a number (1,234 / 45.6 / 45.6%); None for — and words."""
    try:
        return float(str(text).replace(",", "").rstrip("%"))
    except ValueError:
        return None
