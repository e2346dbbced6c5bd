/**
 * Chooses the TensorFlow.js backend: native TensorFlow (tfjs-node-gpu, tfjs-node), then wasm,
 * then plain JavaScript (cpu). `BERTLAB_BACKEND=tensorflow|wasm|cpu` forces one.
 * (Minimal first version; scripts/provision-backend.ts builds the native one.)
 */
import * as tf from "@tensorflow/tfjs";

export type BackendName = "tensorflow" | "wasm" | "cpu";

export interface BackendInfo {
  name: BackendName;
  /** Why this backend was chosen, in one sentence. */
  reason: string;
}

let chosen: BackendInfo | undefined;

function tryNative(): string | undefined {
  try {
    require("@tensorflow/tfjs-node");
    return undefined;
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  }
}

/** Initialises (once per process) and returns the backend in use. */
export async function initBackend(force = process.env.BERTLAB_BACKEND as BackendName | undefined): Promise<BackendInfo> {
  if (chosen && (!force || chosen.name === force)) return chosen;
  const order: BackendName[] = force ? [force] : ["tensorflow", "wasm", "cpu"];
  const notes: string[] = [];
  for (const name of order) {
    if (name === "tensorflow") {
      const err = tryNative();
      if (err) { notes.push(`native TensorFlow unavailable (${err})`); continue; }
    }
    if (name === "wasm") require("@tensorflow/tfjs-backend-wasm");
    if (await tf.setBackend(name)) {
      await tf.ready();
      chosen = { name, reason: force ? `forced by BERTLAB_BACKEND=${force}` : notes.length ? notes.join("; ") : "fastest available" };
      return chosen;
    }
    notes.push(`${name} failed to initialise`);
  }
  throw new Error(`No TensorFlow.js backend could be initialised: ${notes.join("; ")}`);
}
