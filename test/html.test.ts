// lib/core/html.ts: escaping of tweet text and the notebook table helper.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { escapeHtml, tableHtml } from "../lib/core/html";

test("escapeHtml escapes & < > \" '", () => {
  assert.equal(escapeHtml(`<b>"hi" & 'bye'</b>`), "&lt;b&gt;&quot;hi&quot; &amp; &#39;bye&#39;&lt;/b&gt;");
  assert.equal(escapeHtml("plain #tweet @user 😀"), "plain #tweet @user 😀");
  assert.equal(escapeHtml("&amp;"), "&amp;amp;"); // already-escaped text is escaped again: it is data
  assert.equal(escapeHtml(""), "");
});

test("tableHtml escapes headers and cells, right-aligns numbers", () => {
  const rows = [{ text: "<script>alert(1)</script>", n: 3 }, { text: "a & b", n: 0.5 }];
  const html = tableHtml(rows, undefined, { caption: "<i>x</i>" });
  assert.ok(!html.includes("<script>"));
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.ok(html.includes("<th>text</th><th>n</th>"));
  assert.ok(html.includes('<td style="text-align:right">3</td>'));
  assert.ok(html.includes('<td style="text-align:right">0.5000</td>'));
  assert.ok(html.includes("<caption>&lt;i&gt;x&lt;/i&gt;</caption>"));
  assert.equal((html.match(/<tr>/g) ?? []).length, 3);
  // explicit column choice and order; missing values are empty cells
  const two = tableHtml([{ a: 1, b: 2 }, { a: 3 }], ["b", "a"]);
  assert.ok(two.includes("<th>b</th><th>a</th>"));
  assert.ok(two.includes("<tr><td></td>"));
});

test("tableHtml does not change its input", () => {
  const rows = [{ a: "<x>" }];
  const copy = JSON.parse(JSON.stringify(rows));
  tableHtml(rows);
  assert.deepEqual(rows, copy);
});
