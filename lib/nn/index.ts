/**
 * lib/nn/ — the maths of the model, defined once: BERT's forward pass, its TensorFlow.js ops, the losses, AdamW, and
 * the weight files.
 *
 * May import: core, view, runtime, config (test/layout.test.ts checks it).
 */
export * from "./bert_def";
export * from "./loss_def";
export * from "./losses";
export * from "./ops";
export * from "./optim";
export * from "./safetensors";
export * from "./weights";
