/**
 * lib/data/ — the tweets and their labels: CSV reading, SMILE, the stratified split, label sets, tokenization, samplers
 * and batches.
 *
 * May import: core, view, runtime, config (test/layout.test.ts checks it).
 */
export * from "./carer";
export * from "./csv";
export * from "./data";
export * from "./labels";
export * from "./loader";
export * from "./smile";
export * from "./split";
export * from "./tokenize";
