/**
 * lib/model/ — a runnable BERT classifier: loading and saving Hugging Face model folders, the pretrained model's source,
 * and the layout of a run folder.
 *
 * May import: core, view, runtime, config, data, nn, graph (test/layout.test.ts checks it).
 */
export * from "./bert";
export * from "./compat";
export * from "./hub";
export * from "./models";
export * from "./run_folder";
