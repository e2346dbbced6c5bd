/**
 * lib/train/ — fine-tuning: the training loop, its graph step, checkpoints and resume, the rare-class remedies, weight averaging and seed
 * sweeps.
 *
 * May import: core, view, runtime, config, data, nn, graph, model, eval (test/layout.test.ts checks it).
 */
export * from "./checkpoint";
export * from "./imbalance";
export * from "./init_from";
export * from "./swa";
export * from "./sweep";
export * from "./train";
export * from "./train_graph";
