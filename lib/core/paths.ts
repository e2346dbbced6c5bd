/**
 * Where bertlab keeps things on disk. Every path is absolute and derived from the project root,
 * so the library, the CLI, the tests and the notebooks (whose kernel runs at the project root)
 * all agree. Each can be moved with an environment variable.
 */
import * as path from "path";
import * as os from "os";

/** The project root: the folder holding package.json. */
export const ROOT = path.resolve(__dirname, "..", "..");

/** Datasets fetched by set-up (the SMILE CSV lands here; never committed). */
export const DATA_DIR = process.env.BERTLAB_DATA_DIR ?? path.join(ROOT, "data");

/** The SMILE Twitter Emotion CSV the course trains on. */
export const SMILE_CSV = path.join(DATA_DIR, "smile-annotations-final.csv");

/** Model folders in Hugging Face layout (config.json, model.safetensors, tokenizer.json). */
export const MODELS_DIR = process.env.BERTLAB_MODELS_DIR ?? path.join(ROOT, "models");

/** The project's Python virtual environment (Jupyter's headless runner, the PyTorch reference), made by set-up. */
export const VENV_DIR = path.join(ROOT, ".venv");

/** Its Python interpreter. */
export const VENV_PYTHON = path.join(VENV_DIR, "bin", "python");

/** Download cache for the Hugging Face hub and PyPI wheels, shared between projects. */
export const CACHE_DIR = process.env.BERTLAB_CACHE ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "bertlab");

/** Executed notebooks and their HTML copies. */
export const OUT_DIR = process.env.BERTLAB_OUT_DIR ?? path.join(ROOT, "out");

/** Training runs: checkpoints, metrics.json, charts. */
export const RUNS_DIR = process.env.BERTLAB_RUNS_DIR ?? path.join(ROOT, "runs");

/** The course's shared copy of the data, beside the checkout (present on course machines only). */
export const SHARED_SMILE_DIR = path.resolve(ROOT, "..", "shared", "data", "smile");
export const SHARED_CARER_DIR = path.resolve(ROOT, "..", "shared", "data", "carer");

/** CARER, the larger emotion corpus a model can learn from before SMILE (train/validation/test CSVs). */
export const CARER_DIR = path.join(DATA_DIR, "carer");

/** A path from the project root when inside it, so that the report and --help read the same from any folder. */
export function fromRoot(p: string): string {
  const r = path.relative(ROOT, p);
  return r && !r.startsWith("..") && !path.isAbsolute(r) ? r : p;
}
