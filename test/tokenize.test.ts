/**
 * lib/data/tokenize.ts against Python transformers (test/fixtures/reference/tokenizer.json, made by
 * scripts/make_fixtures.py): every id, token type and mask must be identical. Needs the course
 * model's tokenizer files in models/all-MiniLM-L6-v2 (set-up puts them there; no weights read).
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { loadTokenizer, describeEncoding, EncodeOptions, Tokenizer } from "../lib/data/tokenize";
import { MODELS_DIR } from "../lib/core/paths";
import { tmpDir } from "./helpers/tmp";

const MODEL = path.join(MODELS_DIR, "all-MiniLM-L6-v2");
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/reference/tokenizer.json"), "utf8"));

let tokP: Promise<Tokenizer> | undefined;
const tokenizer = () => (tokP ??= loadTokenizer(MODEL));

/** Python's options → ours. */
function options(py: { padding: string | boolean; max_length?: number; truncation?: boolean }): EncodeOptions {
  return {
    padding: py.padding === "longest" ? "longest" : py.padding === "max_length" ? "max_length" : false,
    maxLength: py.max_length,
    truncation: py.truncation ?? false,
  };
}

for (const c of fixture.cases) {
  test(`encode matches Python: ${c.name}`, async () => {
    const tok = await tokenizer();
    const enc = tok.encode(c.texts, options(c.options));
    assert.deepEqual(enc.input_ids, c.input_ids);
    assert.deepEqual(enc.token_type_ids, c.token_type_ids);
    assert.deepEqual(enc.attention_mask, c.attention_mask);
  });
}

test("tokenize, ids without special tokens and decode match Python on every text", async () => {
  const tok = await tokenizer();
  for (const t of fixture.texts) {
    assert.deepEqual(tok.tokenize(t.text), t.tokens, JSON.stringify(t.text));
    const row = tok.encode([t.text], { truncation: false }).input_ids[0];
    assert.deepEqual(row.slice(1, -1), t.ids, JSON.stringify(t.text));
    assert.equal(tok.decode(row), t.decoded, JSON.stringify(t.text));
  }
});

test("vocabulary size and special tokens are BERT's", async () => {
  const tok = await tokenizer();
  assert.equal(tok.vocabSize, fixture.vocab_size);
  assert.equal(tok.padTokenId, fixture.pad_token_id);
  assert.equal(tok.clsTokenId, fixture.special_tokens.cls);
  assert.equal(tok.sepTokenId, fixture.special_tokens.sep);
  assert.equal(tok.unkTokenId, fixture.special_tokens.unk);
  assert.equal(tok.modelMaxLength, 512);
  assert.deepEqual(tok.idsToTokens([101, 102, 0, 100]), ["[CLS]", "[SEP]", "[PAD]", "[UNK]"]);
});

test("truncation keeps [CLS] … [SEP]; defaults are padding to the longest, truncation at 512", async () => {
  const tok = await tokenizer();
  const long = "word ".repeat(600);
  const enc = tok.encode([long, "hi"]);
  assert.equal(enc.input_ids[0].length, 512);
  assert.equal(enc.input_ids[0][0], 101);
  assert.equal(enc.input_ids[0][511], 102);
  assert.deepEqual(enc.attention_mask[1].slice(0, 4), [1, 1, 1, 0]);
  assert.equal(enc.attention_mask[1].reduce((a, b) => a + b, 0), 3);
  const short = tok.encode([long], { maxLength: 5 });
  assert.deepEqual(short.input_ids, [[101, 2773, 2773, 2773, 102]]);
});

test("encode never changes its input", async () => {
  const tok = await tokenizer();
  const texts = ["One", "two three"];
  const copy = texts.slice();
  Object.freeze(texts);
  tok.encode(texts, { padding: "max_length", maxLength: 8 });
  assert.deepEqual(texts, copy);
});

test("describeEncoding lists token, id, segment and mask per position", async () => {
  const tok = await tokenizer();
  const d = describeEncoding(tok, tok.encode(["Loved it!"], { padding: "max_length", maxLength: 6 }));
  assert.deepEqual(d.map((p) => p.token), ["[CLS]", "loved", "it", "!", "[SEP]", "[PAD]"]);
  assert.deepEqual(d.map((p) => p.input_id), [101, 3866, 2009, 999, 102, 0]);
  assert.deepEqual(d.map((p) => p.attention_mask), [1, 1, 1, 1, 1, 0]);
  assert.deepEqual(d[5], { position: 5, token: "[PAD]", input_id: 0, token_type_id: 0, attention_mask: 0 });
  assert.throws(() => describeEncoding(tok, tok.encode(["x"]), 3), /row 3 is not in the batch/);
});

test("bad input gives errors that name the problem", async () => {
  const tok = await tokenizer();
  assert.throws(() => tok.encode(["ok", 42 as unknown as string]), /text 1 is number, not a string/);
  assert.throws(() => tok.encode(["ok"], { maxLength: 1 }), /maxLength must be an integer of at least 2/);
  assert.throws(
    () => tok.encode(["a b c d e f"], { padding: "max_length", maxLength: 4, truncation: false }),
    /text 0 has 8 tokens, more than maxLength 4/,
  );
  assert.throws(() => tok.encode(["a"], { padding: "left" as unknown as false }), /padding must be/);
  assert.throws(() => tok.idsToTokens([99999]), /token id 99999 is not in the vocabulary/);
});

test("loading: a missing tokenizer.json, a missing folder and a broken file are named", async () => {
  const dir = tmpDir("bertlab-tok-");
  try {
    await assert.rejects(
      loadTokenizer(dir),
      (e: Error) => e.message.includes(path.join(dir, "tokenizer.json")) && /missing/.test(e.message),
    );
    await assert.rejects(loadTokenizer(path.join(dir, "nope")), /model folder not found/);
    fs.writeFileSync(path.join(dir, "tokenizer.json"), "{ not json");
    await assert.rejects(loadTokenizer(dir), /tokenizer\.json: not valid JSON/);
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify({ model: { type: "BPE" } }));
    await assert.rejects(loadTokenizer(dir), /expected a WordPiece \(BERT\) tokenizer, found model type "BPE"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("paddingCost: longest per batch, fixed length, truncation; input unchanged", async () => {
  const { paddingCost } = await import("../lib/data/tokenize");
  const lengths = Object.freeze([5, 3, 8, 4]) as readonly number[];
  const longest = paddingCost(lengths, { batchSize: 2, padding: "longest" });
  // batches [5, 3] → 2 × 5 and [8, 4] → 2 × 8
  assert.deepEqual(longest, {
    rows: 4,
    positions: 26,
    realTokens: 20,
    padTokens: 6,
    padFraction: 6 / 26,
    truncated: 0,
  });
  const fixed = paddingCost(lengths, { batchSize: 3, padding: "max_length", maxLength: 6 });
  // every row padded (or cut) to 6: the 8 becomes 6 real tokens
  assert.deepEqual(fixed, { rows: 4, positions: 24, realTokens: 18, padTokens: 6, padFraction: 0.25, truncated: 1 });
  assert.deepEqual(lengths, [5, 3, 8, 4]);
  // agrees with the masks encode() makes
  const tok = await tokenizer();
  const texts = ["a", "a b c d e f", "hello there", "x y"];
  const enc = tok.encode(texts);
  const real = enc.attention_mask.flat().reduce((a, b) => a + b, 0);
  const cost = paddingCost(texts.map((t) => tok.tokenize(t).length + 2), { batchSize: 4, padding: "longest" });
  assert.equal(cost.realTokens, real);
  assert.equal(cost.positions, enc.attention_mask.flat().length);
  assert.throws(() => paddingCost([1], { batchSize: 0, padding: "longest" }), /batchSize must be a positive integer/);
  assert.throws(
    () => paddingCost([3, 2, NaN], { batchSize: 2, padding: "longest" }),
    /lengths\[2\] = NaN is not a token count/,
  );
});

test("a folder with only tokenizer.json (no tokenizer_config.json) encodes the same", async () => {
  const dir = tmpDir("bertlab-tok-");
  try {
    fs.copyFileSync(path.join(MODEL, "tokenizer.json"), path.join(dir, "tokenizer.json"));
    const bare = await loadTokenizer(dir);
    const tok = await tokenizer();
    const texts = fixture.cases[1].texts;
    assert.deepEqual(
      bare.encode(texts, { padding: "max_length", maxLength: 64 }),
      tok.encode(texts, { padding: "max_length", maxLength: 64 }),
    );
    assert.equal(bare.padTokenId, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("special tokens written as AddedToken objects in tokenizer_config.json are understood", async () => {
  const dir = tmpDir("bertlab-tok-");
  try {
    fs.copyFileSync(path.join(MODEL, "tokenizer.json"), path.join(dir, "tokenizer.json"));
    const added = (content: string) => ({
      __type: "AddedToken",
      content,
      lstrip: false,
      rstrip: false,
      normalized: false,
      single_word: false,
    });
    fs.writeFileSync(
      path.join(dir, "tokenizer_config.json"),
      JSON.stringify({
        cls_token: added("[CLS]"),
        sep_token: added("[SEP]"),
        pad_token: added("[PAD]"),
        unk_token: added("[UNK]"),
        model_max_length: 128,
      }),
    );
    const tok = await loadTokenizer(dir);
    assert.deepEqual(
      [tok.clsTokenId, tok.sepTokenId, tok.padTokenId, tok.unkTokenId, tok.modelMaxLength],
      [101, 102, 0, 100, 128],
    );
    assert.deepEqual(tok.encode(["hi"]).input_ids, [[101, 7632, 102]]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
