// lib/data/csv.ts: RFC 4180 parsing, strict UTF-8, delimiter inference and readLabelledTexts' errors.
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { parseCsv, parseCsvRecords, decodeUtf8, inferDelimiter, readCsv, readLabelledTexts } from "../lib/data/csv";
import { tmpDir } from "./helpers/tmp";

let dir = "";
const write = (name: string, content: string | Buffer) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  return f;
};
before(() => {
  dir = tmpDir("bertlab-csv-");
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("quoted fields hold delimiters, doubled quotes and newlines", () => {
  assert.deepEqual(parseCsv('1,"a, ""quoted"" text",happy\n'), [["1", 'a, "quoted" text', "happy"]]);
  assert.deepEqual(parseCsv('a,"line one\nline two",b\nc,d,e'), [["a", "line one\nline two", "b"], ["c", "d", "e"]]);
  assert.deepEqual(parseCsv('x,"",""\n'), [["x", "", ""]]);
  assert.deepEqual(parseCsv(",,\n"), [["", "", ""]]);
  assert.deepEqual(parseCsv('""\n'), [[""]]); // a quoted empty field is a record, not a blank line
  assert.deepEqual(parseCsv("a,b"), [["a", "b"]]); // no final newline
  assert.deepEqual(parseCsv("a,b,"), [["a", "b", ""]]);
  assert.deepEqual(parseCsv('say "hi",b\n'), [['say "hi"', "b"]]); // quotes inside an unquoted field are literal
});

test("CRLF and LF line ends, blank lines skipped, record line numbers", () => {
  assert.deepEqual(parseCsv("a,b\r\nc,d\r\n"), [["a", "b"], ["c", "d"]]);
  assert.deepEqual(parseCsv('a,"x\r\ny"\r\n\r\nc,d'), [["a", "x\r\ny"], ["c", "d"]]);
  const recs = parseCsvRecords('h1,h2\n"multi\nline",1\n\nlast,2\n');
  assert.deepEqual(recs.map((r) => r.line), [1, 2, 5]);
});

test("TSV and other delimiters", () => {
  assert.deepEqual(parseCsv('a\t"b\tc"\td\n', { delimiter: "\t" }), [["a", "b\tc", "d"]]);
  assert.deepEqual(parseCsv("a;b,c\n", { delimiter: ";" }), [["a", "b,c"]]);
  assert.throws(() => parseCsv("a", { delimiter: "ab" }), /one character/);
});

test("malformed quoting is an error naming file and line", () => {
  assert.throws(
    () => parseCsv('a,b\nc,"never closed\n', { file: "f.csv" }),
    /f\.csv: line 2: quoted field is never closed/,
  );
  assert.throws(
    () => parseCsv('a,b\n"x"y,z\n', { file: "f.csv" }),
    /f\.csv: line 2: unexpected "y" after a closing quote/,
  );
});

test("strict UTF-8: bad bytes name the file, byte offset and line; BOM dropped", () => {
  assert.equal(decodeUtf8(Buffer.from("\ufeffhé 😀", "utf8")), "hé 😀");
  const bad = Buffer.concat([Buffer.from("ok\nalso ok\nbad "), Buffer.from([0xe9]), Buffer.from(" latin-1\n")]);
  assert.throws(
    () => decodeUtf8(bad, "latin1.csv"),
    /latin1\.csv: not valid UTF-8 at byte 15 \(line 3\): bytes e9 20 6c 61/,
  );
  // overlong encoding and a lone surrogate are invalid too
  assert.throws(() => decodeUtf8(Buffer.from([0x41, 0xc0, 0x80])), /at byte 1 /);
  assert.throws(() => decodeUtf8(Buffer.from([0xed, 0xa0, 0x80])), /at byte 0 /);
  assert.throws(() => decodeUtf8(Buffer.from([0x61, 0xf0, 0x9f])), /at byte 1 /); // truncated 4-byte sequence
  const f = write("latin1.csv", bad);
  assert.throws(() => readCsv(f), /not valid UTF-8 at byte 15/);
});

test("delimiter from the extension, else sniffed", () => {
  assert.equal(inferDelimiter("x.tsv", "a,b,c"), "\t");
  assert.equal(inferDelimiter("x.CSV", "a\tb"), ",");
  assert.equal(inferDelimiter("x.txt", "id\ttext\tlabel\n"), "\t");
  assert.equal(inferDelimiter("x.txt", 'id;"a;b;c";label\n'), ";");
  assert.equal(inferDelimiter("x", "one column only\n"), ",");
});

test("readLabelledTexts reads named columns from CSV and TSV, ids as strings", () => {
  const csv = write(
    "mine.csv",
    'id,tweet,emotion\n611857364396965889,"so happy, really",happy\n611857364396965890,meh,sad\n',
  );
  const got = readLabelledTexts(csv, { textColumn: "tweet", labelColumn: "emotion", idColumn: "id" });
  assert.deepEqual(got, [
    { id: "611857364396965889", text: "so happy, really", label: "happy", row: 2 },
    { id: "611857364396965890", text: "meh", label: "sad", row: 3 },
  ]);
  const tsv = write("mine.tsv", "text\tlabel\nhi, there\tpos\r\nugh\tneg\r\n");
  assert.deepEqual(readLabelledTexts(tsv, { textColumn: "text", labelColumn: "label" }), [
    { id: "2", text: "hi, there", label: "pos", row: 2 },
    { id: "3", text: "ugh", label: "neg", row: 3 },
  ]);
  const headerless = write("nohead.txt", "1\tyay\tpos\n2\tnay\tneg\n");
  assert.deepEqual(
    readLabelledTexts(headerless, { header: false, idColumn: 0, textColumn: 1, labelColumn: 2 }).map((r) => r.id),
    ["1", "2"],
  );
});

test("readLabelledTexts errors say what is wrong and where", () => {
  const opts = { textColumn: "text", labelColumn: "label", idColumn: "id" };
  assert.throws(() => readLabelledTexts(path.join(dir, "absent.csv"), opts), /absent\.csv: file not found/);
  // a TSV with a .csv name is read as CSV: a comma inside a tweet makes a row too wide
  const wrong = write("wrong.csv", "id\ttext\tlabel\n1\thello, world\tpos\n2\tbye\tneg\n");
  assert.throws(
    () => readLabelledTexts(wrong, opts),
    /wrong\.csv: expected 1 columns \(delimiter ","[^)]*\), line 2 has 2 — is the delimiter right\?/,
  );
  // ... and without commas the header is one column: the missing-column error says so
  const wrong2 = write("wrong2.csv", "id\ttext\tlabel\n1\thello\tpos\n");
  assert.throws(
    () => readLabelledTexts(wrong2, opts),
    /no text column "text"; columns found: "id\\ttext\\tlabel" \(one column only: is the delimiter "," right\?\)/,
  );
  const ragged = write("ragged.csv", "id,text,label\n1,a,pos\n2,b\n");
  assert.throws(
    () => readLabelledTexts(ragged, opts),
    /ragged\.csv: expected 3 columns \(delimiter ",", as in line 1\), line 3 has 2/,
  );
  const cols = write("cols.csv", "id,tweet,label\n1,a,pos\n");
  assert.throws(
    () => readLabelledTexts(cols, opts),
    /cols\.csv: no text column "text"; columns found: "id", "tweet", "label"/,
  );
  const empty = write("empty-text.csv", 'id,text,label\n1,a,pos\n2,"  ",neg\n');
  assert.throws(() => readLabelledTexts(empty, opts), /empty-text\.csv:3: empty text in column "text"/);
  const dup = write("dup.csv", "id,text,label\n7,a,pos\n8,b,pos\n7,c,neg\n");
  assert.throws(() => readLabelledTexts(dup, opts), /dup\.csv: duplicate id "7" on lines 2 and 4/);
  const nothing = write("nothing.csv", "");
  assert.throws(() => readLabelledTexts(nothing, opts), /nothing\.csv: the file is empty/);
});
