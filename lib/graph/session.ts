/**
 * Graphs run in a TensorFlow session by tfjs-node: the SavedModel written once to a cache folder named by its
 * precision and hash, loaded once per process, then one call per batch with the weights fed from the model's own
 * tensors. The one session cache for inference and training.
 *
 *   const s = GraphSession.memo(key, () => inferenceGraph(config), warn);   // or GraphSession.load(graph)
 *   const [logits] = s.run({ input_ids, token_type_ids, mask, ...weights }, ["logits"]);
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../core/fsutil";
import { CACHE_DIR } from "../core/paths";
import { BertGraph, GraphOutput } from "./lowering";

/** The parts of tfjs-node's backend used here (NodeJSKernelBackend; not in tfjs's public types). */
interface NodeBackend {
  isUsingGpuDevice: boolean;
  loadSavedModelMetaGraph(dir: string, tags: string): number;
  runSavedModel(
    id: number,
    inputs: tf.Tensor[],
    infos: { name: string; tfDtype: string }[],
    outputs: string[],
  ): tf.Tensor[];
}

/** Where graphs are written: one folder per graph, named by its precision and hash (same graph, same folder). */
export const GRAPH_CACHE_DIR = path.join(CACHE_DIR, "graphs");

/** A graph loaded into a TensorFlow session; sessions are shared by graph within the process. */
export class GraphSession {
  private static sessions = new Map<string, GraphSession>();
  private static built = new Map<string, GraphSession | undefined>();
  private readonly infos: { name: string; tfDtype: string }[];

  private constructor(private readonly backend: NodeBackend, private readonly id: number, readonly graph: BertGraph) {
    const tfDtypes = { int32: "DT_INT32", float32: "DT_FLOAT", bool: "DT_BOOL" } as Record<string, string>;
    this.infos = graph.feeds.map((f) => {
      // bfloat16 lives inside graphs only: tfjs has no such tensors to feed.
      if (!tfDtypes[f.dtype]) throw new Error(`graph: "${f.name}" is fed as ${f.dtype}, which tfjs cannot feed`);
      return { name: `${f.name}:0`, tfDtype: tfDtypes[f.dtype] };
    });
  }

  /**
   * True when the active backend can run graphs: native TensorFlow through tfjs-node on the CPU.
   * Not with tfjs-node-gpu: a session reads its inputs on the host, so every call would copy all the
   * weights from the GPU and back; there the op-by-op forward, which keeps them on the GPU, is used.
   */
  static available(): boolean {
    if (tf.getBackend() !== "tensorflow") return false;
    const b = tf.backend() as unknown as Partial<NodeBackend>;
    return typeof b.runSavedModel === "function" && b.isUsingGpuDevice !== true;
  }

  /**
   * The session of the graph `build` lowers, lowered once per `key` in this process (lowering costs far more than a
   * lookup): inference keys by model shape, kind and precision, training by shape and step options. undefined where
   * graphs do not run here, or where this one cannot load: `warn` hears why, once per key, and it is not retried, so
   * that the caller runs op by op.
   */
  static memo(key: string, build: () => BertGraph, warn: (e: Error) => void): GraphSession | undefined {
    if (!GraphSession.available()) return undefined;
    if (!GraphSession.built.has(key)) {
      let session: GraphSession | undefined;
      try {
        session = GraphSession.load(build());
      } catch (e) {
        warn(e as Error);
      }
      GraphSession.built.set(key, session);
    }
    return GraphSession.built.get(key);
  }

  /** Loads `graph` (written to the cache folder first if it is not there). Throws when no native backend runs. */
  static load(graph: BertGraph): GraphSession {
    if (!GraphSession.available())
      throw new Error(
        `graph execution needs the native TensorFlow backend; the active backend is "${tf.getBackend()}"`,
      );
    // The precision is in the bytes already; in the name too, so that a cache folder says what it holds.
    const hash = `${graph.precision}-${crypto.createHash("sha256").update(graph.pb).digest("hex").slice(0, 16)}`;
    const cached = GraphSession.sessions.get(hash);
    if (cached) return cached;
    const dir = path.join(GRAPH_CACHE_DIR, hash);
    const file = path.join(dir, "saved_model.pb");
    // Rewritten unless byte-identical: a damaged or half-copied cache file heals itself.
    if (!fs.existsSync(file) || !fs.readFileSync(file).equals(graph.pb)) writeFileAtomic(file, graph.pb);
    const backend = tf.backend() as unknown as NodeBackend;
    const session = new GraphSession(backend, backend.loadSavedModelMetaGraph(dir, "serve"), graph);
    GraphSession.sessions.set(hash, session);
    return session;
  }

  /** Runs the graph on `feeds` (every name of `graph.feeds`); returns the asked outputs. */
  run(feeds: Record<string, tf.Tensor>, outputs: GraphOutput[]): tf.Tensor[] {
    const missing = this.graph.feeds.filter((f) => !feeds[f.name]).map((f) => f.name);
    const more = missing.length > 3 ? ` and ${missing.length - 3} more` : "";
    if (missing.length) throw new Error(`graph: not fed ${missing.slice(0, 3).join(", ")}${more}`);
    const inputs = this.graph.feeds.map((f) => feeds[f.name]);
    return this.backend.runSavedModel(this.id, inputs, this.infos, outputs.map((o) => `${o}:0`));
  }
}
