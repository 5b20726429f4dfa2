// The live page's HTML and CSS. The script (web/app.ts, compiled) fills it
// in from the event stream. Laid out for 1280x800: the chart and its lane
// headers on the left, the client, the links and the legend on the right.

export function pageHtml(title: string): string {
  return (
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · paxos live</title>
<style>
*{box-sizing:border-box}
body{margin:0;font:13px system-ui,sans-serif;color:#222;height:100vh;display:flex;flex-direction:column}
header{display:flex;gap:14px;align-items:center;padding:6px 12px;border-bottom:1px solid ` +
    `#ddd;background:#fafafa;min-height:40px}
header h1{font-size:15px;margin:0;white-space:nowrap}
#status{color:#555;white-space:nowrap}
#status.sampling{color:#b35900;font-weight:bold}
#conn.down{color:#d62728;font-weight:bold}
#replay{display:none;gap:6px;align-items:center;flex:1}
#replay input[type=range]{flex:1}
main{flex:1;display:flex;min-height:0}
#left{flex:1;overflow:auto;position:relative;min-width:0}
#cards{position:sticky;top:0;z-index:2;height:166px;background:rgba(255,255,255,.96);border-bottom:1px solid #eee}
.card{position:absolute;top:6px;height:154px;border:1px solid #ccc;border-radius:6px;padding:4px ` +
    `6px;background:#fff;overflow:hidden}
.card.down{background:#fde8e8;border-color:#d62728}
.card.paused{background:#fff1e0;border-color:#ff7f0e}
.card .name{font-weight:bold;font-size:13px;display:flex;justify-content:space-between;gap:4px;white-space:nowrap}
.card .name>span:first-child{overflow:hidden;text-overflow:ellipsis}
.card .badge{flex:none;font-size:10px;line-height:15px;height:15px;padding:0 ` +
    `5px;border-radius:8px;background:#2a7d2a;color:#fff}
.card.down .badge{background:#d62728}
.card.paused .badge{background:#ff7f0e}
.card .sub{color:#666;font-size:11px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.card dl{margin:2px 0;display:grid;grid-template-columns:auto 1fr;column-gap:6px;font:11px ` +
    `ui-monospace,Menlo,Consolas,monospace}
.card dt{color:#666}.card dd{margin:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.card .btns{position:absolute;bottom:4px;left:6px;right:6px;display:flex;gap:3px}
.card button{flex:1;font-size:11px;padding:2px 0}
#chart svg{display:block}
aside{width:330px;border-left:1px solid #ddd;overflow:auto;padding:8px 10px;background:#fcfcfc}
aside h2{font-size:13px;margin:10px 0 4px}
#client h2{margin-top:0}
aside input[type=text],aside input[type=password],aside select{width:100%;margin:2px 0;padding:3px;font-size:12px}
.row{display:flex;gap:4px;margin:3px 0}.row>*{flex:1}
table.links{border-collapse:collapse;font:11px ui-monospace,monospace}
table.links td,table.links th{border:1px solid #ddd;padding:2px 4px;text-align:right;min-width:38px}
table.links td.pair{cursor:pointer}
table.links td.cut{background:#d62728;color:#fff}
table.links td.self{background:#eee}
.legend{display:grid;grid-template-columns:28px 1fr;gap:2px 6px;align-items:center;font-size:12px}
.sw{height:0;border-top:3px solid}
.sw.dash{border-top-style:dashed}
#log{font:11px ui-monospace,monospace;max-height:170px;overflow:auto;border:1px solid #eee;background:#fff;padding:3px}
#log div.fail{color:#d62728}
.hint{color:#666;font-size:11px}
</style></head>
<body>
<header>
  <h1 id="title">${esc(title)}</h1>
  <span id="conn">connecting…</span>
  <span id="status"></span>
  <span id="replay"><button id="step-back" title="one line back">◀</button><input id="slider" type="range" ` +
    `min="0" max="0" value="0"><button id="step-fwd" title="one line on">▶</button><span id="pos"></span></span>
  <span id="secret-box" style="display:none;margin-left:auto">secret <input id="secret" type="password" size="14" ` +
    `autocomplete="off"></span>
</header>
<main>
  <div id="left"><div id="cards"></div><div id="chart"></div></div>
  <aside>
    <div id="client"></div>
    <div id="links-box"><h2>Links <span class="hint">(msgs/s, row → column; click to cut or ` +
    `restore)</span></h2><div id="links"></div>
      <div class="row"><button id="heal" data-action="heal">heal all links</button></div></div>
    <h2>Legend</h2><div class="legend" id="legend"></div>
    <div id="activity"><h2>Activity</h2><div id="log"><span class="hint">what the controls did, and the answers ` +
    `to client requests</span></div></div>
  </aside>
</main>
<script type="module" src="/js/ui/web/app.js"></script>
</body></html>
`
  );
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
