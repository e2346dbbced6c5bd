/**
 * lib/core/ — plumbing with no knowledge of BERT: files written atomically, paths, downloads, NumPy's random generator,
 * the paired t-test, HTML escaping, the order texts are batched in, the browser for tests.
 *
 * May import: nothing else in lib/ (test/layout.test.ts checks it).
 */
export * from "./batching";
export * from "./browser";
export * from "./download";
export * from "./fsutil";
export * from "./html";
export * from "./paths";
export * from "./random";
export * from "./stats";
