/**
 * lib/teach/ — the course itself: the notebooks' first-cell setup, EDA, attention plots and the graded quiz.
 *
 * May import: core, view, runtime, config, data, nn, graph, model, eval, train, serve (test/layout.test.ts checks it).
 */
export * from "./attention_plot";
export * from "./eda";
export * from "./notebook";
export * from "./quiz";
export * from "./quiz_cli";
export * from "./quiz_key";
