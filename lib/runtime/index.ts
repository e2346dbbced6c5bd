/**
 * lib/runtime/ — where tensors run: the TensorFlow.js backend (native TensorFlow, else wasm, else cpu) and the CPU a
 * measurement ran on.
 *
 * May import: core (test/layout.test.ts checks it).
 */
export * from "./backend";
export * from "./machine";
