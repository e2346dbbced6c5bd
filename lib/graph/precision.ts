/**
 * Which precision the TensorFlow graph's matrix products run in (TrainConfig.precision): "fp32", "bf16", or
 * "auto", which takes bf16 only where it is fast. Fast needs two things: a CPU that multiplies bfloat16 in
 * hardware (AVX512-BF16 or AMX-BF16; without them TensorFlow emulates it, slower than float32) and a TensorFlow
 * build that runs a bfloat16 MatMul and BatchMatMulV2, which a tiny graph probes once per process.
 *
 *   resolvePrecision("auto")
 *     // { precision: "fp32", why: "auto: fp32, this CPU (AMD EPYC) has no avx512_bf16 or amx_bf16" }
 *   resolvePrecision("bf16")
 *     // throws "--precision bf16: this CPU (AMD EPYC) has no avx512_bf16 or amx_bf16 …"
 */
import * as tf from "@tensorflow/tfjs";
import { Precision } from "../config/config";
import { cpuInfo } from "../runtime/machine";
import { GraphBuilder, dtype } from "./tfgraph";
import { GraphPrecision } from "./lowering";
import { GraphSession } from "./session";

/** What decides whether bf16 runs fast here (tests pass their own to act as another machine). */
export interface Bf16Support {
  /** The CPU's name, for messages. */
  cpu: string;
  /** Which of avx512_bf16, amx_bf16 the CPU has. */
  features: string[];
  /** Whether TensorFlow ran a bfloat16 MatMul and BatchMatMulV2 and got the right numbers. */
  kernels: boolean;
  /** Why the kernels did not run, when they did not. */
  kernelError?: string;
}

/** The CPU flags (/proc/cpuinfo) that mean bfloat16 products in hardware. */
export const BF16_FEATURES = ["avx512_bf16", "amx_bf16"] as const;

let probed: Bf16Support | undefined;

/** This machine's bf16 support: CPU flags, and the kernel probe (run once per process, then remembered). */
export function bf16Support(): Bf16Support {
  if (probed) return probed;
  const cpu = cpuInfo();
  const features = cpu.extensions.filter((e) => (BF16_FEATURES as readonly string[]).includes(e));
  let kernels = false, kernelError: string | undefined;
  try {
    kernels = probeKernels();
    if (!kernels) kernelError = "a bfloat16 product gave wrong numbers";
  } catch (e) {
    kernelError = (e as Error).message.split("\n")[0];
  }
  probed = { cpu: cpu.model, features, kernels, ...(kernelError ? { kernelError } : {}) };
  return probed;
}

/**
 * [2, 3] @ [3, 2] through MatMul and BatchMatMulV2 in bfloat16, in a graph session: small integers, which
 * bfloat16 holds exactly, so the answer must be exact. Throws where graphs cannot run or the kernels are missing.
 */
function probeKernels(): boolean {
  const g = new GraphBuilder();
  const F = dtype("float32"), BF = dtype("bfloat16");
  const a = g.placeholder("a", "float32", [2, 3]), b = g.placeholder("b", "float32", [3, 2]);
  const cast = (x: string, src = F, dst = BF) => g.op("Cast", [x], { SrcT: src, DstT: dst, Truncate: { b: false } });
  const mm = g.op("MatMul", [cast(a), cast(b)], { T: BF, transpose_a: { b: false }, transpose_b: { b: false } });
  const bmm = g.op("BatchMatMulV2", [cast(a), cast(b)], { T: BF, adj_x: { b: false }, adj_y: { b: false } });
  g.op("Identity", [cast(mm, BF, F)], { T: F }, "logits");
  g.op("Identity", [cast(bmm, BF, F)], { T: F }, "pooled");
  const session = GraphSession.load({
    pb: g.savedModel(),
    precision: "bf16",
    feeds: [{ name: "a", dtype: "float32" }, { name: "b", dtype: "float32" }],
    dropouts: [],
  });
  const want = [22, 28, 49, 64];
  return tf.tidy(() => {
    const feeds = { a: tf.tensor2d([[1, 2, 3], [4, 5, 6]]), b: tf.tensor2d([[1, 2], [3, 4], [5, 6]]) };
    const out = session.run(feeds, ["logits", "pooled"]);
    return out.every((t) => [...t.dataSync()].every((v, i) => v === want[i]));
  });
}

/**
 * The precision to run, and a sentence saying why (for the run's log). "bf16" where the CPU or TensorFlow
 * cannot run it fast is an error naming what is missing; "auto" then falls back to fp32 and says why.
 */
export function resolvePrecision(
  requested: Precision,
  support: Bf16Support | (() => Bf16Support) = bf16Support,
): { precision: GraphPrecision; why: string } {
  if (requested === "fp32") return { precision: "fp32", why: "fp32 (asked for)" };
  const s = typeof support === "function" ? support() : support;
  const missing = !s.features.length
    ? `this CPU (${s.cpu}) has no ${BF16_FEATURES.join(" or ")} (bfloat16 products in hardware; TensorFlow would `
      + "emulate them, slower than fp32)"
    : !s.kernels
    ? `this TensorFlow build does not run a bfloat16 MatMul / BatchMatMulV2 (${s.kernelError ?? "no reason given"})`
    : undefined;
  if (requested === "bf16") {
    if (missing) throw new Error(`--precision bf16: ${missing}; use --precision fp32 or auto`);
    return { precision: "bf16", why: `bf16 (asked for; CPU has ${s.features.join(", ")})` };
  }
  if (requested !== "auto")
    throw new Error(`precision must be one of fp32, bf16, auto, got ${JSON.stringify(requested)}`);
  return missing ?
    { precision: "fp32", why: `auto: fp32, ${missing}` }
    : { precision: "bf16", why: `auto: bf16, CPU has ${s.features.join(", ")} and TensorFlow runs bfloat16 products` };
}
