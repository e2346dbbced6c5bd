/**
 * What the model looks at: one text's attention probabilities from every layer and head
 * (`model.forward(x, { outputAttentions: true })`, equal to Hugging Face's `output_attentions`,
 * test/attention.test.ts) and two plotly pictures of them (lib/view/plot.ts). Notebooks 04 and 06.
 *
 *   const maps = attentionOf(model, tokenizer, "Loved the museum today!", { padTo: 12 });
 *   maps.tokens          // ["[CLS]", "loved", "the", "museum", "today", "!", "[SEP]", "[PAD]", …]
 *   maps.attentions[5][0][0]   // layer 6, head 1, row of [CLS]: 12 probabilities, 0 on every [PAD]
 *   showPlot(attentionFigure(maps));     // heatmap, a layer dropdown and a head slider
 *   showPlot(clsAttentionFigure(maps));  // where [CLS] looks, one bar chart per layer
 *
 * Rows are the token that looks (the query), columns the token looked at (the key). Padding is
 * masked out of every softmax, so its columns are exactly 0.
 */
import * as tf from "@tensorflow/tfjs";
import { BertForSequenceClassification, toInputs } from "../model/bert";
import { Tokenizer } from "../data/tokenize";
import { Figure, plotText } from "../view/plot";

export interface AttentionMaps {
  text: string;
  /** The tokens as the model reads them, [CLS] … [SEP] then [PAD]s. */
  tokens: string[];
  /** 1 for a real token, 0 for padding. */
  mask: number[];
  /** [layer][head][query][key] probabilities; each row sums to 1 over the real tokens. */
  attentions: number[][][][];
  /** Softmax of the logits, by label. */
  probabilities: Record<string, number>;
}

/** One text's attention in every layer and head (eval mode); `padTo` adds [PAD]s, to show padding gets none. */
export function attentionOf(
  model: BertForSequenceClassification,
  tokenizer: Tokenizer,
  text: string,
  opts: { padTo?: number } = {},
): AttentionMaps {
  let enc = tokenizer.encode([text], { truncation: true, maxLength: 256 });
  if (opts.padTo !== undefined) {
    if (!Number.isInteger(opts.padTo) || opts.padTo < enc.input_ids[0].length)
      throw new Error(`attentionOf: padTo ${opts.padTo} is shorter than the text's ${enc.input_ids[0].length} tokens`);
    enc = tokenizer.encode([text], { truncation: true, maxLength: opts.padTo, padding: "max_length" });
  }
  const x = toInputs(enc);
  try {
    const { logits, attentions } = model.forward(x, { outputAttentions: true });
    const probs = tf.tidy(() => tf.softmax(logits).arraySync() as number[][])[0];
    const maps = attentions.map((a) => (a.arraySync() as number[][][][])[0]);
    tf.dispose([logits, ...attentions]);
    return {
      text,
      tokens: tokenizer.idsToTokens(enc.input_ids[0]),
      mask: enc.attention_mask[0].slice(),
      attentions: maps,
      probabilities: Object.fromEntries(model.labels.map((l, i) => [l, probs[i]])),
    };
  } finally {
    tf.dispose(Object.values(x));
  }
}

/** The mean over heads of one layer's [query][key] maps. */
export function meanOverHeads(layer: number[][][]): number[][] {
  return layer[0].map((row, q) => row.map((_, k) => layer.reduce((s, h) => s + h[q][k], 0) / layer.length));
}

/** White for 0 to dark blue for 1, with most of the steps at small values (a typical row spreads out thin). */
const COLORS = [
  [0, "#ffffff"],
  [0.04, "#deebf7"],
  [0.12, "#9ecae1"],
  [0.3, "#4292c6"],
  [0.6, "#08519c"],
  [1, "#08306b"],
];

// 3 decimals: the picture cannot show more, and a 60-token tweet's 6 layers × 13 head choices stay ~1.5 MB.
const round = (m: number[][]) => m.map((r) => r.map((v) => Math.round(v * 1e3) / 1e3));

/** Tick labels: token and position, escaped for plotly (a tweet's "<b>" stays text); positions keep repeats apart. */
function ticks(tokens: string[]): { tickvals: number[]; ticktext: string[] } {
  return { tickvals: tokens.map((_, i) => i), ticktext: tokens.map((t, i) => plotText(`${t} ·${i}`)) };
}

/**
 * The attention heatmap of one text. A dropdown picks the layer and a slider the head ("mean" = the average of
 * the layer's heads); each layer is its own trace (the dropdown shows one), and the slider rewrites all layers'
 * z at once, so the two choices combine.
 */
export function attentionFigure(maps: AttentionMaps, opts: { title?: string } = {}): Figure {
  const layers = maps.attentions.length, heads = maps.attentions[0].length;
  const show = layers - 1; // the last layer first
  const t = ticks(maps.tokens);
  const hover = maps.tokens.map((q) => maps.tokens.map((k) => plotText(`${q} → ${k}`)));
  const data = maps.attentions.map((layer, l) => ({
    type: "heatmap",
    name: `layer ${l + 1}`,
    visible: l === show,
    z: round(meanOverHeads(layer)),
    x: t.tickvals,
    y: t.tickvals,
    zmin: 0,
    zmax: 1,
    colorscale: COLORS,
    text: hover,
    hovertemplate: "%{text}: %{z:.3f}<extra></extra>",
    colorbar: { title: { text: "attention" } },
  }));
  const headOptions = ["mean", ...Array.from({ length: heads }, (_, h) => String(h + 1))];
  const side = Math.min(900, 260 + 22 * maps.tokens.length);
  return {
    data,
    layout: {
      title: { text: plotText(opts.title ?? "Attention: rows look at columns") },
      height: side + 200,
      width: side + 120,
      xaxis: { ...t, title: { text: "looked at (key)" }, tickangle: -60 },
      yaxis: { ...t, title: { text: "looking (query)" }, autorange: "reversed" },
      margin: { t: 80, l: 110, r: 20, b: 200 },
      updatemenus: [{
        type: "dropdown",
        x: 0,
        xanchor: "left",
        y: 1.02,
        yanchor: "bottom",
        active: show,
        buttons: Array.from({ length: layers }, (_, l) => ({
          label: `layer ${l + 1}`,
          method: "restyle",
          args: [{ visible: Array.from({ length: layers }, (_, j) => j === l) }],
        })),
      }],
      sliders: [{
        active: 0,
        y: 0,
        yanchor: "top",
        pad: { t: 120 },
        currentvalue: { prefix: "head: " },
        steps: headOptions.map((label, h) => ({
          label,
          method: "restyle",
          args: [{ z: maps.attentions.map((layer) => round(h === 0 ? meanOverHeads(layer) : layer[h - 1])) }],
        })),
      }],
    },
  };
}

/** Where [CLS] looks (the row the pooler and the classifier read), mean over heads, one small bar chart per layer. */
export function clsAttentionFigure(maps: AttentionMaps, opts: { title?: string } = {}): Figure {
  const layers = maps.attentions.length;
  const t = ticks(maps.tokens);
  const data = maps.attentions.map((layer, l) => ({
    type: "bar",
    name: `layer ${l + 1}`,
    x: t.tickvals,
    y: round(meanOverHeads(layer))[0],
    xaxis: "x",
    yaxis: l === 0 ? "y" : `y${l + 1}`,
    text: maps.tokens.map((k) => plotText(k)),
    textposition: "none",
    marker: { color: "#4292c6" },
    hovertemplate: `layer ${l + 1}, [CLS] → %{text}: %{y:.3f}<extra></extra>`,
  }));
  const axes: Record<string, object> = {};
  for (let l = 0; l < layers; l++) {
    axes[l === 0 ? "yaxis" : `yaxis${l + 1}`] = { title: { text: `L${l + 1}` }, range: [0, 1], tickvals: [0, 0.5, 1] };
  }
  return {
    data,
    layout: {
      title: { text: plotText(opts.title ?? "Where does [CLS] look? (mean over heads, per layer)") },
      grid: { rows: layers, columns: 1, pattern: "coupled", roworder: "top to bottom" },
      height: 120 + 90 * layers,
      showlegend: false,
      xaxis: { ...t, tickangle: -60 },
      ...axes,
    },
  };
}
