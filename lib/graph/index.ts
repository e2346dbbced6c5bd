/**
 * lib/graph/ — the model lowered into one TensorFlow graph: the recorded forward pass, its gradient rules and AdamW as
 * graph nodes, and the sessions that run them on the native backend.
 *
 * May import: core, view, runtime, config, data, nn (test/layout.test.ts checks it).
 */
export * from "./bert_graph";
export * from "./graph_ir";
export * from "./step_graph";
export * from "./lowering";
export * from "./precision";
export * from "./rows";
export * from "./session";
export * from "./tfgraph";
