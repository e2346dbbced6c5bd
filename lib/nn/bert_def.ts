/**
 * The one definition of BERT's forward pass (Hugging Face's `BertForSequenceClassification`), written
 * once against a small set of building blocks (`BertOps`). Every form of the model comes from it:
 *
 *   - eager TensorFlow.js (lib/model/bert.ts: training under the gradient tape, notebooks, wasm), where each
 *     block is a tfjs function of lib/nn/ops.ts;
 *   - a recorded graph (lib/graph/graph_ir.ts), which is lowered to a TensorFlow graph for fast inference and
 *     for the training step with its gradients (lib/graph/bert_graph.ts), and to ONNX (lib/serve/onnx_export.ts).
 *
 *   const { logits } = bertForward(blocks, config, { input_ids, token_type_ids, mask });
 *
 * The order of the dropout calls is part of the definition: implementations number dropout sites in call
 * order, so that a seed gives the same masks in every form.
 */

/** The config fields the forward pass reads (lib/model/bert.ts's BertConfig has them all). */
export interface BertShape {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  layer_norm_eps: number;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  classifier_dropout?: number | null;
}

/**
 * The building blocks, over values of type T (tensors, graph nodes). "Hidden" values hold one vector of
 * `hidden_size` per token; their layout ([batch, seq, hidden] or [batch·seq, hidden]) is the
 * implementation's business, which is why the blocks that need positions (`positions`, `first`, attention)
 * are blocks of their own.
 */
export interface BertOps<T> {
  /** A weight by its Hugging Face name, e.g. "bert.encoder.layer.0.attention.self.query.weight". */
  param(name: string): T;
  /** Rows of `table` [rows, hidden] for integer `ids` [batch, seq] (a hidden value). */
  embed(table: T, ids: T): T;
  /** Rows 0 … seq−1 of the position table, to be added to every sequence of the batch. */
  positions(table: T): T;
  add(a: T, b: T): T;
  /** x wᵀ + b, w [out, in] as `nn.Linear` keeps it. */
  linear(x: T, w: T, b: T): T;
  layerNorm(x: T, gamma: T, beta: T, eps: number): T;
  /** Exact GELU, 0.5·x·(1 + erf(x/√2)). */
  gelu(x: T): T;
  tanh(x: T): T;
  /** Zeroes elements with probability `rate` and scales the rest by 1/(1 − rate), in training only. */
  dropout(x: T, rate: number): T;
  /** softmax(q kᵀ/√head + mask) per head: [batch, heads, seq, seq]. The mask is additive, [batch, 1, 1, seq]. */
  attentionProbs(q: T, k: T, mask: T, heads: number): T;
  /** probs @ v per head, heads concatenated back into a hidden value. */
  attentionContext(probs: T, v: T, heads: number): T;
  /** The first token's vector of each sequence ([CLS]): [batch, hidden]. */
  first(h: T): T;
}

export interface BertForwardInputs<T> {
  input_ids: T;
  token_type_ids: T;
  /** The additive attention mask [batch, 1, 1, seq]: 0 for tokens, the float32 minimum for padding. */
  mask: T;
}

export interface BertForwardOutputs<T> {
  lastHiddenState: T;
  pooled: T;
  logits: T;
  /** Each layer's attention probabilities [batch, heads, seq, seq] (after attention dropout, as Hugging Face returns them). */
  attentions: T[];
}

/** The forward pass: embeddings → encoder layers → pooler → classifier. */
export function bertForward<T>(o: BertOps<T>, c: BertShape, x: BertForwardInputs<T>): BertForwardOutputs<T> {
  const p = (name: string) => o.param(name);
  const linear = (h: T, name: string) => o.linear(h, p(`${name}.weight`), p(`${name}.bias`));
  const norm = (h: T, name: string) => o.layerNorm(h, p(`${name}.weight`), p(`${name}.bias`), c.layer_norm_eps);
  const heads = c.num_attention_heads;

  // 1) embeddings: word + position + token type, LayerNorm, dropout
  const e = "bert.embeddings";
  const words = o.add(
    o.embed(p(`${e}.word_embeddings.weight`), x.input_ids),
    o.positions(p(`${e}.position_embeddings.weight`)),
  );
  let h = o.dropout(
    norm(o.add(words, o.embed(p(`${e}.token_type_embeddings.weight`), x.token_type_ids)), `${e}.LayerNorm`),
    c.hidden_dropout_prob,
  );

  // 2) encoder layers: self-attention, then the feed-forward block, each with a residual LayerNorm
  const attentions: T[] = [];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const l = `bert.encoder.layer.${i}`, s = `${l}.attention.self`;
    const probs = o.dropout(
      o.attentionProbs(linear(h, `${s}.query`), linear(h, `${s}.key`), x.mask, heads),
      c.attention_probs_dropout_prob,
    );
    attentions.push(probs);
    const ctx = o.attentionContext(probs, linear(h, `${s}.value`), heads);
    const a = norm(
      o.add(o.dropout(linear(ctx, `${l}.attention.output.dense`), c.hidden_dropout_prob), h),
      `${l}.attention.output.LayerNorm`,
    );
    const inter = o.gelu(linear(a, `${l}.intermediate.dense`));
    h = norm(o.add(o.dropout(linear(inter, `${l}.output.dense`), c.hidden_dropout_prob), a), `${l}.output.LayerNorm`);
  }

  // 3) pooler (dense + tanh on [CLS]), dropout, classifier
  const pooled = o.tanh(linear(o.first(h), "bert.pooler.dense"));
  const logits = linear(o.dropout(pooled, c.classifier_dropout ?? c.hidden_dropout_prob), "classifier");
  return { lastHiddenState: h, pooled, logits, attentions };
}
