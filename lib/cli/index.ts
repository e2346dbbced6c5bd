/**
 * lib/cli/ — the `bertlab` command line, built on everything below it.
 *
 * May import: core, view, runtime, config, data, nn, graph, model, eval, train, serve, analysis, teach (test/layout.test.ts checks it).
 */
export * from "./cli";
export * from "./cv_cli";
export * from "./doctor";
export * from "./flags";
