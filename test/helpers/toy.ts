/**
 * A toy tokenizer and toy labelled texts for training-loop tests with the tiny random BERT: words
 * hashed into the vocabulary, each label with its own words, so a model can learn which is which.
 *
 *   const data = { train: toyData(48, 1), validation: toyData(15, 2), labels: TOY_LABELS };
 *   toyTokenizer.encode(["so happy"]).input_ids   // [[101, <id of "so">, <id of "happy">, 102]]
 */
import { TokenizerLike } from "../../lib/data/tokenize";
import { Rng } from "../../lib/data/loader";

export const TOY_LABELS = ["neg", "neu", "pos"];

/** Words hashed into the vocabulary: enough for a model to learn which words mean what. */
export const toyTokenizer: TokenizerLike = {
  padTokenId: 0,
  encode(texts, opts = {}) {
    const max = opts.maxLength ?? 64;
    const input_ids = texts.map((t) => {
      const hash = (w: string) => [...w].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
      const ids = t.toLowerCase().split(/\s+/).filter(Boolean).map((w) => 1000 + (hash(w) % 20000));
      return [101, ...ids.slice(0, max - 2), 102];
    });
    const fill = (v: number) => input_ids.map((r) => r.map(() => v));
    return { input_ids, attention_mask: fill(1), token_type_ids: fill(0) };
  },
};

export const TOY_WORDS: Record<string, string[]> = {
  neg: ["bad", "awful", "sad", "angry"],
  neu: ["table", "chair", "today", "bus"],
  pos: ["good", "great", "happy", "love"],
};

/** n texts, labels in turn neg, neu, pos (or as `labelOf(i)` says), words drawn from a seeded generator. */
export function toyData(
  n: number,
  seed: number,
  labelOf: (i: number) => string = (i) => TOY_LABELS[i % 3],
): { texts: string[]; labels: string[] } {
  const filler = ["the", "a", "is", "was", "so", "my", "day"];
  const rng = new Rng(seed);
  const texts: string[] = [], labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = labelOf(i);
    const words = TOY_WORDS[label];
    const w = [words[rng.int(4)], filler[rng.int(7)], filler[rng.int(7)], words[rng.int(4)]];
    texts.push(w.slice(0, 2 + rng.int(3)).join(" "));
    labels.push(label);
  }
  return { texts, labels };
}
