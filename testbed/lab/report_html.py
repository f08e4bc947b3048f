"""``report.html`` in each result folder: the claims with their verdicts, the tables, the plots
and the provenance, readable in any browser without a network (one file, no scripts; the
plots and data files it links to sit beside it in the folder).
"""
from __future__ import annotations

import html
import json
import os
from typing import Any, Mapping, Sequence

from testbed.lab.results import Results, Verdict, verdict_summary
from testbed.lab.tables import Table

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #fff; background: #2e7d32; } .fail { color: #fff; background: #c62828; }
.skip { color: #222; background: #ddd; }
.status { font-weight: 600; padding: .1rem .45rem; border-radius: .25rem; font-size: .8rem; }
.wide { overflow-x: auto; } .summary { font-weight: 600; } .note { color: #555; font-size: .85rem; }
figure { display: inline-block; margin: .5rem 1rem 1rem 0; max-width: 30rem; vertical-align: top; }
figure img { width: 100%; border: 1px solid #eee; } figcaption { font-size: .85rem; color: #555; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; font-size: .8rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: .9rem; }
dt { font-weight: 600; } dd { margin: 0; }
"""
FILES = (("results.csv", "every measurement, one row each"), ("results.json", "the same with series, and the checks"),
         ("meta.json", "provenance"), ("experiment.py", "the experiment that produced them"),
         ("topology.py", "its topology"))


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _claims(verdicts: Sequence[Verdict], error: Mapping[str, Any] | None) -> str:
    if error is not None:
        return (f"<p class=\"summary\">Claims not checked: <code>run()</code> raised {_e(error.get('type'))} at "
                f"{_e(error.get('file'))}:{_e(error.get('line'))}.</p>"
                f"<pre>{_e(error.get('traceback', error.get('message', '')))}</pre>")
    if not verdicts:
        return "<p>This experiment states no checks.</p>"
    rows = "".join(f"<tr><td><span class=\"status {v.status}\">{v.status.upper()}</span></td>"
                   f"<td>{_e(v.claim or v.name)}</td><td><code>{_e(v.name)}</code></td><td>{_e(v.message)}</td></tr>"
                   for v in verdicts)
    return (f"<p class=\"summary\">{_e(verdict_summary(verdicts))}</p>"
            "<table><thead><tr><th>verdict</th><th>claim</th><th>check</th><th>what was found</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _table(table: Table | None) -> str:
    if table is None:
        return "<p>No measurements.</p>"
    head = "".join(f"<th class=\"{'num' if n else ''}\">{_e(h)}</th>" for h, n in zip(table.header, table.numeric))
    body = "".join("<tr>" + "".join(f"<td class=\"{'num' if n else ''}\">{_e(c)}</td>"
                                    for c, n in zip(row, table.numeric)) + "</tr>" for row in table.rows)
    note = f"<p class=\"note\">{_e(table.note)}</p>" if table.note else ""
    return f"<div class=\"wide\"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}"


def _plots(folder: str, plots: Sequence[Any]) -> str:
    """A figure per plot whose PNG exists; links to its SVG and PDF where they exist."""
    parts = []
    for spec in plots:
        png = os.path.join("plots", f"{spec.name}.png")
        if not os.path.isfile(os.path.join(folder, png)):
            continue
        links = " ".join(f"<a href=\"plots/{_e(spec.name)}.{fmt}\">{fmt.upper()}</a>" for fmt in ("svg", "pdf")
                         if os.path.isfile(os.path.join(folder, "plots", f"{spec.name}.{fmt}")))
        parts.append(f"<figure id=\"plot-{_e(spec.name)}\"><img src=\"{_e(png)}\" alt=\"{_e(spec.title or spec.name)}\">"
                     f"<figcaption><code>{_e(spec.name)}</code>: PNG {links}</figcaption></figure>")
    return "".join(parts) or "<p>No plots.</p>"


def _provenance(meta: Mapping[str, Any]) -> str:
    tb, kernel, host = meta.get("testbed", {}), meta.get("kernel", {}), meta.get("host", {})
    python, topology, params = meta.get("python", {}), meta.get("topology", {}), meta.get("params", {})
    tools = ", ".join(f"{k}: {v}" for k, v in (meta.get("tools") or {}).items() if v)
    facts = [
        ("started", meta.get("start")), ("ended", meta.get("end")),
        ("testbed", f"{tb.get('version')} at {tb.get('commit') or 'no git commit'}"
                    f"{' (with local changes)' if tb.get('dirty') else ''}"),
        ("kernel", f"{kernel.get('release')} ({kernel.get('machine')})"),
        ("machine", f"{host.get('cpu_count')} × {host.get('cpu_model')}; {host.get('distribution')}"),
        ("load average", f"{host.get('load_average_start')} at start, {host.get('load_average_end')} at end"),
        ("working folder", host.get("working_folder")),
        ("Python", f"{python.get('version')} ({python.get('executable')})"),
        ("packages", ", ".join(f"{k} {v}" for k, v in (meta.get("packages") or {}).items())),
        ("tools", tools),
        ("topology", f"{topology.get('file')} (sha256 {str(topology.get('sha256', '?'))[:16]}…)"),
        ("parameters", json.dumps(params.get("fixed", {})) + "; grid " + json.dumps(params.get("grid", {}))),
        ("repetitions", params.get("repeat")), ("seed", (meta.get("seeds") or {}).get("base")),
        ("command", " ".join((meta.get("experiment") or {}).get("argv") or []) or None),
        ("host sysctls", ", ".join(f"{k} = {v}" for k, v in (host.get("sysctls") or {}).items() if v is not None)),
        ("link offloads", _offload_summary(topology.get("networks") or [])),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts if v not in (None, ""))
    return f"<dl>{items}</dl>"


def _offload_summary(networks: Sequence[Mapping[str, Any]]) -> str:
    """"tx-checksumming off on 8 of 8 link ends" per network, for the settings that differ from on."""
    parts = []
    for index, network in enumerate(networks):
        ends = [v for v in (network.get("offloads") or {}).values() if isinstance(v, Mapping)]
        if not ends:
            continue
        off = {}
        for end in ends:
            for name, state in end.items():
                if str(state).startswith("off"):
                    off[name] = off.get(name, 0) + 1
        text = ", ".join(f"{name} off on {n} of {len(ends)}" for name, n in off.items()) or "all on"
        parts.append(f"network {index + 1}: {text}")
    return "; ".join(parts)


def write(folder: str, *, name: str, description: str, verdicts: Sequence[Verdict], table: Table | None,
          plots: Sequence[Any], meta: Mapping[str, Any], error: Mapping[str, Any] | None = None,
          results: Results | None = None) -> str:
    """Write ``folder/report.html``; returns its path. Links only to files that exist in the folder."""
    files = "".join(f"<li><a href=\"{_e(f)}\">{_e(f)}</a>: {_e(what)}</li>"
                    for f, what in FILES if os.path.isfile(os.path.join(folder, f)))
    count = f"{len(results)} measurement(s)" if results is not None else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(name)}: results</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>{_e(name)}</h1>
<p class="lead">{_e(description)}</p>
<h2 id="claims">Claims</h2>
{_claims(verdicts, error)}
<h2 id="results">Results</h2>
<p class="note">{_e(count)}</p>
{_table(table)}
<h2 id="plots">Plots</h2>
{_plots(folder, plots)}
<h2 id="provenance">Provenance</h2>
{_provenance(meta)}
<h2 id="files">Files</h2>
<ul>{files}</ul>
</body></html>
"""
    path = os.path.join(folder, "report.html")
    with open(path, "w") as f:
        f.write(page)
    return path
