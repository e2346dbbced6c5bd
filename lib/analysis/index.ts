/**
 * lib/analysis/ — questions asked of a trained model: the Equity Evaluation Corpus bias probe.
 *
 * May import: core, view, runtime, config, data, nn, graph, model, eval, train, serve (test/layout.test.ts checks it).
 */
export * from "./bias";
export * from "./eec";
