// lib/view/plot.ts: plotly.js inlined once, figures embedded safely (tweet text can't break out of the
// script or become Plotly markup). The first call minifies plotly.js (a few seconds, then cached).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as vm from "vm";
import { plotHtml, plotText, scriptJson, resetPlotly, plotlySource } from "../lib/view/plot";

const EVIL = `</script><script>alert("x")</script> & <b>bold</b>`;

test("plotly.js is inlined in the first chart only, behind a window.Plotly guard", () => {
  resetPlotly();
  const fig = { data: [{ type: "bar", x: ["happy", "sad"], y: [1137, 32] }] };
  const first = plotHtml(fig);
  const second = plotHtml(fig);
  assert.ok(first.length > 1_000_000, `first chart carries plotly.js (${first.length} chars)`);
  assert.ok(first.includes("if (!window.Plotly) {"));
  assert.ok(second.length < 5_000, `later charts do not (${second.length} chars)`);
  assert.ok(!second.includes("if (!window.Plotly) {"));
  // each chart has its own div id, and its script draws into it
  const ids = [first, second].map((h) => /<div id="([^"]+)"/.exec(h)![1]);
  assert.notEqual(ids[0], ids[1]);
  assert.ok(second.includes(`document.getElementById("${ids[1]}")`));
  resetPlotly();
  assert.ok(plotHtml(fig).length > 1_000_000);
});

test("the inlined library cannot end its <script> early and defines window.Plotly", () => {
  const src = plotlySource();
  assert.ok(!/<\/script/i.test(src));
  // The library sets window.Plotly when run as a browser script (checked without a DOM: the
  // wrapper's last lines).
  assert.match(src.slice(-200), /Plotly/);
});

test("tweet text in titles and hover cannot break out of the script", () => {
  resetPlotly();
  plotHtml({ data: [] }); // inline the library first
  const html = plotHtml({
    data: [{ type: "bar", x: [EVIL], y: [1], hovertext: [EVIL] }],
    layout: { title: { text: EVIL } },
  });
  // exactly the chart's own script tags, nothing from the data
  assert.equal((html.match(/<script>/g) ?? []).length, 1);
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
  assert.ok(!html.includes("<b>"));
  // and the embedded JSON still decodes to the original text
  const json = /var fig = (.*);\n/.exec(html)![1];
  const fig = vm.runInNewContext(`(${json})`);
  assert.equal(fig.layout.title.text, EVIL);
  assert.equal(fig.data[0].hovertext[0], EVIL);
});

test("plotText escapes Plotly markup; scriptJson round-trips", () => {
  assert.equal(plotText("<b>hi</b> & <br>"), "&lt;b&gt;hi&lt;/b&gt; &amp; &lt;br&gt;");
  const value = { s: EVIL, u: "\u2028\u2029", n: [1, 2.5] };
  assert.deepEqual(JSON.parse(vm.runInNewContext(`JSON.stringify(${scriptJson(value)})`)), value);
  assert.ok(!scriptJson(value).includes("<"));
  assert.throws(() => plotHtml({} as never), /expected a figure/);
});
