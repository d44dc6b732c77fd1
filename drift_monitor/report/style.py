"""The report's stylesheet (inlined into the page: the report is one file)."""

CSS = """
:root { --ok:#1a7f37; --ok-bg:#dafbe1; --warning:#9a6700; --warning-bg:#fff8c5;
  --alert:#cf222e; --alert-bg:#ffebe9; --insufficient_data:#57606a;
  --insufficient_data-bg:#eaeef2; --line:#d0d7de; --muted:#57606a; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f8fa; color: #24292f; font: 14px/1.45 system-ui,
  -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1380px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 24px; margin: 4px 0 14px; }
h2 { font-size: 18px; margin: 28px 0 10px; }
h3 { font-size: 16px; margin: 0 0 6px; display: flex; align-items: center; gap: 10px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
.pill { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px;
  font-weight: 600; text-transform: uppercase; letter-spacing: .03em; white-space: nowrap; }
.pill.st-ok { color: var(--ok); background: var(--ok-bg); }
.pill.st-warning { color: var(--warning); background: var(--warning-bg); }
.pill.st-alert { color: #fff; background: var(--alert); }
.pill.st-insufficient_data { color: var(--insufficient_data);
  background: var(--insufficient_data-bg); }
.verdict { border-radius: 8px; padding: 16px 20px; border: 1px solid var(--line);
  border-left-width: 8px; background: #fff; }
.verdict.st-ok { border-left-color: var(--ok); }
.verdict.st-warning { border-left-color: #d4a72c; background: #fffdf0; }
.verdict.st-alert { border-left-color: var(--alert); background: #fff8f7; }
.verdict.st-insufficient_data { border-left-color: var(--insufficient_data); }
.verdict-head { display: flex; align-items: center; gap: 14px; font-size: 18px; }
.verdict-head .pill { font-size: 18px; padding: 3px 16px; }
.verdict p { margin: 10px 0 0; }
.verdict dl { display: flex; flex-wrap: wrap; gap: 8px 32px; margin: 14px 0 0; }
.verdict dt { font-size: 11px; text-transform: uppercase; color: var(--muted); }
.verdict dd { margin: 0; }
.scroll { overflow-x: auto; }
table.cols { border-collapse: collapse; width: 100%; background: #fff;
  border: 1px solid var(--line); }
.cols th { text-align: left; font-size: 12px; color: var(--muted); font-weight: 600;
  padding: 6px 8px; border-bottom: 2px solid var(--line); background: #f6f8fa; }
.cols td { padding: 5px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
.cols td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.cols td.na { color: #afb8c1; text-align: center; }
.cols td.test { color: var(--muted); }
.cols td.decides { color: #24292f; }
.cols td.decides .stat { font-weight: 600; }
.cols td.decides.st-ok { background: #f4fbf6; }
.cols td.decides.st-warning { background: var(--warning-bg); }
.cols td.decides.st-alert { background: var(--alert-bg); color: var(--alert); }
.cols td .sub { font-size: 11px; color: var(--muted); font-weight: 400; }
.cols tr.st-alert td:first-child { border-left: 4px solid var(--alert); }
.cols tr.st-warning td:first-child { border-left: 4px solid #d4a72c; }
.cols td.flag, .flagged { background: #fff1c2; font-weight: 600; color: #7d4e00; }
.mark { color: var(--alert); font-size: 11px; margin-right: 4px; }
td.st-ok .mark, td.st-warning .mark { color: #24292f; }
.legend { font-size: 12px; color: var(--muted); margin: 6px 0 0; }
.flagged { padding: 0 3px; }
section.col { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 18px; margin: 0 0 16px; border-left-width: 6px; }
section.col.st-ok { border-left-color: #4ac26b; }
section.col.st-warning { border-left-color: #d4a72c; }
section.col.st-alert { border-left-color: var(--alert); }
section.col.st-insufficient_data { border-left-color: #afb8c1; }
.kind { font-size: 12px; color: var(--muted); font-weight: 400; }
.top { margin-left: auto; font-size: 12px; font-weight: 400; }
.facts { margin: 0 0 6px; color: var(--muted); font-size: 13px; }
.notes { margin: 4px 0 8px; padding: 8px 12px 8px 28px; background: #fff8c5;
  border-radius: 6px; font-size: 13px; }
.plots { display: grid; gap: 12px; align-items: start; }
.plots-num { grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); }
.plots-cat { grid-template-columns: minmax(0, 2fr) minmax(260px, 1fr); }
.plots svg { width: 100%; height: auto; border: 1px solid #eaeef2; border-radius: 6px;
  background: #fff; }
table.shares { border-collapse: collapse; font-size: 12px; width: 100%; }
.shares th { text-align: left; color: var(--muted); font-weight: 600; padding: 3px 8px;
  border-bottom: 1px solid var(--line); }
.shares td { padding: 2px 8px; border-bottom: 1px solid #f0f2f4; }
.shares td.num { text-align: right; font-variant-numeric: tabular-nums; }
.shares td.moved { font-weight: 700; color: #7d4e00; background: #fff1c2; }
.shares tr.unseen td { color: #c62828; font-weight: 700; background: #ffebe9; }
@media (max-width: 900px) { .plots-cat { grid-template-columns: 1fr; } }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
@media print { body { background: #fff; } section.col { break-inside: avoid; } }
"""
