/**
 * lib/eval/ — scoring a model: the course's metrics (weighted F1, per-class accuracy), evaluation and prediction,
 * multi-label metrics and thresholds.
 *
 * May import: core, view, runtime, config, data, nn, graph, model (test/layout.test.ts checks it).
 */
export * from "./evaluate";
export * from "./eval_loop";
export * from "./metrics";
export * from "./multilabel";
export * from "./soup";
