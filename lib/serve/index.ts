/**
 * lib/serve/ — a trained model in production: ONNX export and int8 quantization, ONNX Runtime, the engine choice, the
 * browser demo.
 *
 * May import: core, view, runtime, config, data, nn, graph, model, eval, train (test/layout.test.ts checks it).
 */
export * from "./demo";
export * from "./engine";
export * from "./export";
export * from "./onnx_export";
export * from "./onnx_runtime";
export * from "./quantize";
