/**
 * lib/config/ — the training configuration: `TrainConfig` with its commented defaults, and best-epoch selection.
 *
 * May import: core (test/layout.test.ts checks it).
 */
export * from "./config";
export * from "./selection";
