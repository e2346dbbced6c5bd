/**
 * TEMPORARY SHIM — the lead writes the real file: `bertOnnx(model)`, the ONNX export of lib/bert.ts's
 * forward (ModelProto bytes: inputs input_ids / attention_mask / token_type_ids int64 [batch, seq],
 * output logits float32 [batch, num_labels], opset 17, weights as initializers named by their Hugging
 * Face names). Until it lands, everything that needs it (lib/export.ts, the ONNX engine on a
 * checkpoint) fails with the error below; tests feed PyTorch's export instead
 * (scripts/make_onnx_fixtures.py export).
 */
import type { BertForSequenceClassification } from "./bert";

export function bertOnnx(model: BertForSequenceClassification): Uint8Array {
  void model;
  throw new Error("bertOnnx: not yet implemented (lib/onnx_export.ts is a temporary shim)");
}
