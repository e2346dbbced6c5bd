/**
 * BERT's tokenizer, as the course uses it: text → WordPiece pieces → ids, with [CLS]/[SEP], padding, truncation,
 * token_type_ids and the attention mask. Taught in notebooks/03_tokenize.ipynb.
 *
 * Text → pieces → ids is @huggingface/transformers' tokenizer, loaded offline from a model folder's tokenizer.json.
 * Truncation, special tokens and padding are done here because transformers.js cuts over-long texts after adding
 * [SEP] (losing it) where Python `transformers` cuts the text first. test/tokenize.test.ts checks every id, mask and
 * token type against Python.
 *
 *   const tok = await loadTokenizer("models/all-MiniLM-L6-v2");
 *   tok.tokenize("Loved the #museum 😀")   // ["loved", "the", "#", "museum", "[UNK]"]
 *   tok.encode(["Loved it!", "Meh"])      // { input_ids: [[101, 3866, 2009, 999, 102], [101, 2033, 2232, 102, 0]],
 *                                         //   token_type_ids: [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
 *                                         //   attention_mask: [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]] }
 */
import * as fs from "fs";
import * as path from "path";
import { BertTokenizer } from "@huggingface/transformers";

/** A batch of encoded texts, one row per text (Hugging Face's names, so the model reads them as is). */
export interface Encoded {
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
}

export interface EncodeOptions {
  /** Longest sequence kept or padded to, [CLS] and [SEP] included. Default: the model's limit (512). */
  maxLength?: number;
  /** "longest": pad to the batch's longest row (default); "max_length": to maxLength; false: no padding. */
  padding?: "longest" | "max_length" | false;
  /** Cut texts longer than maxLength, keeping [CLS] … [SEP] (default true: BERT cannot read more). */
  truncation?: boolean;
}

/** A WordPiece (BERT) tokenizer loaded from a model folder. Create it with `loadTokenizer`. */
export class Tokenizer {
  readonly vocabSize: number;
  readonly padTokenId: number;
  readonly clsTokenId: number;
  readonly sepTokenId: number;
  readonly unkTokenId: number;
  /** The longest input the model accepts (tokenizer_config.json's model_max_length, else 512). */
  readonly modelMaxLength: number;
  private readonly idToTokenMap: string[];

  constructor(private readonly hf: BertTokenizer, readonly modelDir: string) {
    const vocab = hf.get_vocab();
    this.vocabSize = vocab.size;
    this.idToTokenMap = [];
    for (const [token, id] of vocab) this.idToTokenMap[id] = token;
    const configFile = path.join(modelDir, "tokenizer_config.json"), jsonFile = path.join(modelDir, "tokenizer.json");
    const need = (name: string, id: number | undefined) => {
      if (typeof id === "number") return id;
      throw new Error(
        `${configFile}: no ${name} token in the vocabulary; a BERT tokenizer needs [CLS], [SEP] and [PAD]`,
      );
    };
    this.padTokenId = need("pad", hf.pad_token_id);
    // tokenizer_config.json writes a token as a string or as { "__type": "AddedToken", "content": … }
    const cls = hf.config.cls_token;
    const clsToken = String(cls && typeof cls === "object" ? cls.content : cls ?? "[CLS]");
    this.clsTokenId = need("cls", hf.convert_tokens_to_ids(clsToken));
    this.sepTokenId = need("sep", hf.sep_token_id);
    this.unkTokenId = need("unk", hf.unk_token_id);
    const max = Number(hf.model_max_length);
    // some configs say 1e30 for "no limit"; BERT's position embeddings stop at 512
    this.modelMaxLength = Number.isFinite(max) && max > 0 && max < 1e6 ? max : 512;
    // 1) the course relies on BERT's layout: [CLS] text [SEP]
    const probe = hf.encode("a", { add_special_tokens: true });
    const bare = hf.encode("a", { add_special_tokens: false });
    if (probe.join() !== [this.clsTokenId, ...bare, this.sepTokenId].join())
      throw new Error(
        `${jsonFile}: not a BERT-style tokenizer (expected [CLS] text [SEP], got ids ${probe.join(", ")})`,
      );
  }

  /** WordPiece pieces of one text, without [CLS]/[SEP]: `"Loved it"` → `["loved", "it"]`. */
  tokenize(text: string): string[] {
    return this.hf.tokenize(checkText(text, 0));
  }

  /** The vocabulary's token for each id (`[101, 3866]` → `["[CLS]", "loved"]`). */
  idsToTokens(ids: readonly number[]): string[] {
    return ids.map((id) => {
      const t = this.idToTokenMap[id];
      if (t === undefined) throw new Error(`token id ${id} is not in the vocabulary (0 … ${this.vocabSize - 1})`);
      return t;
    });
  }

  /** Encodes texts as the model reads them: Python's `tokenizer(texts, padding=…, max_length=…, truncation=…)`. */
  encode(texts: readonly string[], opts: EncodeOptions = {}): Encoded {
    if (!Array.isArray(texts)) throw new Error(`encode expects an array of texts, got ${typeof texts}`);
    const padding = opts.padding ?? "longest";
    const truncation = opts.truncation ?? true;
    const maxLength = opts.maxLength ?? this.modelMaxLength;
    if (!Number.isInteger(maxLength) || maxLength < 2)
      throw new Error(`maxLength must be an integer of at least 2 ([CLS] and [SEP]), got ${maxLength}`);
    if (padding !== "longest" && padding !== "max_length" && padding !== false)
      throw new Error(`padding must be "longest", "max_length" or false, got ${JSON.stringify(padding)}`);
    // 1) pieces → ids, text only
    const rows = texts.map((t, i) => this.hf.encode(checkText(t, i), { add_special_tokens: false }));
    // 2) truncate the text (not the special tokens), then add [CLS] … [SEP]
    const ids = rows.map((r, i) => {
      if (r.length + 2 > maxLength) {
        if (truncation) r = r.slice(0, maxLength - 2);
        else if (padding === "max_length") {
          throw new Error(
            `text ${i} has ${r.length + 2} tokens, more than maxLength ${maxLength}; pass truncation: true to cut it`,
          );
        }
      }
      return [this.clsTokenId, ...r, this.sepTokenId];
    });
    // 3) pad on the right with [PAD]; the mask says which positions are real
    const longest = Math.max(0, ...ids.map((r) => r.length));
    const target = padding === "max_length" ? maxLength : padding === "longest" ? longest : 0;
    const out: Encoded = { input_ids: [], token_type_ids: [], attention_mask: [] };
    for (const r of ids) {
      const pad = Math.max(0, target - r.length);
      out.input_ids.push(r.concat(new Array<number>(pad).fill(this.padTokenId)));
      out.token_type_ids.push(new Array<number>(r.length + pad).fill(0)); // one sentence: all segment 0
      out.attention_mask.push(new Array<number>(r.length).fill(1).concat(new Array<number>(pad).fill(0)));
    }
    return out;
  }

  /** Text back from ids; [CLS]/[SEP]/[PAD] dropped unless `skipSpecialTokens` is false. Lower-cased, accents gone. */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    this.idsToTokens(ids); // clear error for an unknown id
    if (ids.length === 0) return "";
    return this.hf.decode(ids.slice(), { skip_special_tokens: opts.skipSpecialTokens ?? true });
  }
}

function checkText(t: unknown, i: number): string {
  if (typeof t !== "string") throw new Error(`text ${i} is ${t === null ? "null" : typeof t}, not a string`);
  return t;
}

function readJson(file: string): Record<string, unknown> {
  let text: string | undefined;
  try {
    text = fs.readFileSync(file, "utf8");
    return JSON.parse(text);
  } catch (e) {
    const why = text === undefined ?
      `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`
      : `not valid JSON (${(e as Error).message})`;
    throw new Error(`${file}: ${why}`, { cause: e });
  }
}

/** Loads a model folder's tokenizer.json (and tokenizer_config.json, special_tokens_map.json) offline. */
export async function loadTokenizer(modelDir: string): Promise<Tokenizer> {
  const file = path.join(modelDir, "tokenizer.json");
  if (!fs.existsSync(modelDir))
    throw new Error(`${modelDir}: model folder not found (run \`npm run setup\`, or pass another folder)`);
  if (!fs.existsSync(file))
    throw new Error(`${file} is missing: the tokenizer needs it (a Hugging Face "fast" tokenizer file)`);
  const json = readJson(file);
  const model = json.model as { type?: string } | undefined;
  if (!model || model.type !== "WordPiece")
    throw new Error(`${file}: expected a WordPiece (BERT) tokenizer, found model type ${JSON.stringify(model?.type)}`);
  const optional = (
    name: string,
  ) => (fs.existsSync(path.join(modelDir, name)) ? readJson(path.join(modelDir, name)) : {});
  // BERT's special tokens by their usual names, unless the folder's files say otherwise
  const bertDefaults = {
    cls_token: "[CLS]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    unk_token: "[UNK]",
    mask_token: "[MASK]",
  };
  const config = { ...bertDefaults, ...optional("special_tokens_map.json"), ...optional("tokenizer_config.json") };
  let hf: BertTokenizer;
  try {
    hf = new BertTokenizer(json, config);
  } catch (e) {
    throw new Error(`${file}: cannot build the tokenizer (${(e as Error).message})`, { cause: e });
  }
  return new Tokenizer(hf, modelDir);
}

/**
 * What the model sees for one row of an encoded batch, position by position: the token, its id, its segment and
 * whether attention may look at it (1) or it is padding (0).
 *
 *   describeEncoding(tok, tok.encode(["Loved it!"], { padding: "max_length", maxLength: 6 }))
 *   // [{ position: 0, token: "[CLS]", input_id: 101, token_type_id: 0, attention_mask: 1 }, …,
 *   //  { position: 5, token: "[PAD]", input_id: 0, token_type_id: 0, attention_mask: 0 }]
 */
export function describeEncoding(tok: Tokenizer, enc: Encoded, row = 0) {
  const ids = enc.input_ids[row];
  if (!ids) throw new Error(`row ${row} is not in the batch (it has ${enc.input_ids.length} rows)`);
  const tokens = tok.idsToTokens(ids);
  return ids.map((id, position) => ({
    position,
    token: tokens[position],
    input_id: id,
    token_type_id: enc.token_type_ids[row][position],
    attention_mask: enc.attention_mask[row][position],
  }));
}

/** How much of a padded batch (or of all batches together) is real text and how much is padding. */
export interface PaddingStats {
  rows: number;
  /** Positions the model computes on: rows × padded length, summed over batches. */
  positions: number;
  realTokens: number;
  padTokens: number;
  /** padTokens / positions. */
  padFraction: number;
  /** Texts longer than maxLength, cut by truncation. */
  truncated: number;
}

/**
 * The padding cost of encoding texts of the given token lengths ([CLS] and [SEP] included) in
 * batches of `batchSize` taken in order: padded to each batch's longest row, or all to `maxLength`
 * (rows longer than maxLength are truncated to it either way). Pure: `lengths` is not changed.
 *
 *   paddingCost([5, 3, 8, 4], { batchSize: 2, padding: "longest" })
 *   // { rows: 4, positions: 26, realTokens: 20, padTokens: 6, padFraction: 0.2307…, truncated: 0 }
 */
export function paddingCost(
  lengths: readonly number[],
  opts: { batchSize: number; padding: "longest" | "max_length"; maxLength?: number },
): PaddingStats {
  const maxLength = opts.maxLength ?? 512;
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
    throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
  let positions = 0, realTokens = 0, truncated = 0;
  for (let start = 0; start < lengths.length; start += opts.batchSize) {
    const batch = lengths.slice(start, start + opts.batchSize).map((n, j) => {
      if (!Number.isInteger(n) || n < 0) throw new Error(`lengths[${start + j}] = ${n} is not a token count`);
      if (n > maxLength) truncated++;
      return Math.min(n, maxLength);
    });
    const width = opts.padding === "max_length" ? maxLength : Math.max(...batch);
    positions += width * batch.length;
    realTokens += batch.reduce((a, b) => a + b, 0);
  }
  const padTokens = positions - realTokens;
  return {
    rows: lengths.length,
    positions,
    realTokens,
    padTokens,
    padFraction: positions ? padTokens / positions : 0,
    truncated,
  };
}

/** What training and evaluation need from a tokenizer (`Tokenizer` has it; tests pass a toy one). */
export interface TokenizerLike {
  encode(texts: string[], opts?: EncodeOptions): Encoded;
  readonly padTokenId: number;
  tokenize?(text: string): string[];
}

/** Token ids of `texts`, truncated to `maxLength` and not padded: the loader pads each batch to its own longest row. */
export function encodeUnpadded(tok: TokenizerLike, texts: string[], maxLength: number): Encoded {
  return tok.encode(texts, { padding: false, truncation: true, maxLength });
}
