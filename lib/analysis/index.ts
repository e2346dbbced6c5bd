/**
 * lib/analysis/ — questions asked of a trained model or a recipe: the Equity Evaluation Corpus bias probe, and
 * cross-validation (folds trained in turn, pooled out-of-fold reports, paired comparisons of two recipes).
 *
 * May import: core, view, runtime, config, data, nn, graph, model, eval, train, serve (test/layout.test.ts checks it).
 */
export * from "./bias";
export * from "./cv";
export * from "./cv_report";
export * from "./cv_run";
export * from "./eec";
