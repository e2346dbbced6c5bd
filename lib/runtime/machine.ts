/**
 * What a measurement ran on: the CPU (model, cores, the vector extensions that decide how fast a matrix product can
 * be) and the native TensorFlow build (its version, and the oneDNN library and instruction set it dispatches to).
 * BERT trains slower than PyTorch on one CPU and faster on another, so scripts/bench.ts records this beside every table.
 *
 *   cpuInfo()
 *     // { model: "AMD EPYC", vendor: "AuthenticAMD", logicalCpus: 2, physicalCores: 2,
 *     //   extensions: ["sse4_2", "avx", "fma", "avx2", "avx512f", …, "avx512_vnni", "avx512_bf16"] }
 *   tensorflowBuild()
 *     // { tensorflow: "2.21.0", tfjsNode: "4.22.0", source: "PyPI tensorflow-cpu 2.21.0", onednnOpts: true,
 *     //   onednn: { version: "v3.7.3", isa: "Intel AVX-512 with Intel DL Boost and bfloat16 support", … } }
 *   describeMachine(cpuInfo(), tensorflowBuild())
 *     // "AMD EPYC · 2 CPUs (2 cores) · avx2 avx512f avx512_vnni avx512_bf16 · TensorFlow 2.21.0, oneDNN v3.7.3 …"
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { nativeVerdict, firstErrorLine, nodeChild } from "./backend";

/** The /proc/cpuinfo flags that matter for BERT's matrix products, in the order they were added to x86. */
export const VECTOR_EXTENSIONS = [
  "sse4_2",
  "avx",
  "fma",
  "avx2",
  "avx_vnni",
  "avx512f",
  "avx512bw",
  "avx512vl",
  "avx512_vnni",
  "avx512_bf16",
  "avx512_fp16",
  "amx_tile",
  "amx_bf16",
  "amx_int8",
] as const;

/** The subset shown in one-line summaries: what separates one CPU generation from the next. */
const SUMMARY_EXTENSIONS = ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16"];

export interface CpuInfo {
  model: string;
  vendor?: string;
  /** CPUs the OS schedules on (hyper-threads included). */
  logicalCpus: number;
  /** Distinct (socket, core) pairs, when /proc/cpuinfo says. */
  physicalCores?: number;
  /** Which of VECTOR_EXTENSIONS the CPU has (empty when the flags are unknown, off Linux). */
  extensions: string[];
}

/** Reads /proc/cpuinfo's text (pure: tests feed it samples). */
export function parseCpuinfo(text: string): CpuInfo {
  const blocks = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  if (blocks.length === 0) throw new Error('cpuinfo: no "processor" entries found');
  const field = (b: string, k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, "m").exec(b)?.[1].trim();
  const flags = new Set((field(blocks[0], "flags") ?? "").split(/\s+/));
  const cores = new Set(blocks.map((b) => `${field(b, "physical id") ?? "?"}:${field(b, "core id") ?? "?"}`));
  const known = blocks.every((b) => field(b, "core id") !== undefined);
  return {
    model: field(blocks[0], "model name") ?? "unknown CPU",
    vendor: field(blocks[0], "vendor_id"),
    logicalCpus: blocks.length,
    physicalCores: known ? cores.size : undefined,
    extensions: VECTOR_EXTENSIONS.filter((e) => flags.has(e)),
  };
}

/** This machine's CPU: /proc/cpuinfo on Linux, else Node's os.cpus() (no flags there). */
export function cpuInfo(): CpuInfo {
  try {
    return parseCpuinfo(fs.readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    const cpus = os.cpus();
    return { model: cpus[0]?.model ?? "unknown CPU", logicalCpus: cpus.length, extensions: [] };
  }
}

export interface OneDnnInfo {
  /** e.g. "v3.7.3". */
  version?: string;
  /** The instruction set oneDNN picked on this CPU, e.g. "Intel AVX-512 with Intel DL Boost and bfloat16 support". */
  isa?: string;
  /** How it runs threads, e.g. "threadpool" (TensorFlow's), and with how many. */
  runtime?: string;
  threads?: number;
}

/** The info lines oneDNN prints first when ONEDNN_VERBOSE=1 (pure). */
export function parseOneDnnVerbose(text: string): OneDnnInfo | undefined {
  const info = text.split("\n").filter((l) => /^onednn_verbose,(v\d+,)?info,/.test(l.trim()));
  if (info.length === 0) return undefined;
  const find = (re: RegExp) => info.map((l) => re.exec(l)).find(Boolean);
  const rt = find(/cpu,runtime:([^,]+),nthr:(\d+)/);
  return {
    version: find(/info,oneDNN (v[\d.]+)/)?.[1],
    isa: find(/cpu,isa:(.+)$/)?.[1].trim(),
    runtime: rt?.[1],
    threads: rt ? Number(rt[2]) : undefined,
  };
}

export interface TensorFlowBuild {
  /** The TensorFlow C library's version (TF_Version()). */
  tensorflow?: string;
  tfjsNode?: string;
  /** Where set-up got the library, e.g. "PyPI tensorflow-cpu 2.21.0". */
  source?: string;
  /** Whether TensorFlow's oneDNN kernels are on (TF_ENABLE_ONEDNN_OPTS; on by default on x86). */
  onednnOpts: boolean;
  onednn?: OneDnnInfo;
  /** Why nothing could be read (no native backend, or the child failed). */
  error?: string;
}

/**
 * Loads native TensorFlow in a child process with ONEDNN_VERBOSE=1, runs one matrix product and reads what oneDNN
 * says about itself. A child, because the setting must be in place before the library loads. About 2 s.
 */
export function tensorflowBuild(): TensorFlowBuild {
  const onednnOpts = !["0", "false"].includes((process.env.TF_ENABLE_ONEDNN_OPTS ?? "").toLowerCase());
  const verdict = nativeVerdict();
  if (!verdict.ok || !verdict.pkgDir) return { onednnOpts, error: verdict.why };
  const source = /built against ([^(;]+)/.exec(verdict.why)?.[1].trim();
  const script = `
    const tf = require(${JSON.stringify(verdict.pkgDir + path.sep)});
    const a = tf.ones([64, 64]); tf.matMul(a, a).dataSync();
    console.log(JSON.stringify({ tf: tf.backend().binding.TF_Version, tfjsNode: tf.version["tfjs-node"] }));`;
  const r = nodeChild(script, { ONEDNN_VERBOSE: "1", TF_CPP_MIN_LOG_LEVEL: "2" });
  const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
  const json = (r.stdout ?? "").split("\n").find((l) => l.startsWith('{"tf"'));
  if (r.status !== 0 || !json)
    return { onednnOpts, source, error: firstErrorLine(r.stderr ?? "") || `exit status ${r.status ?? r.signal}` };
  const v = JSON.parse(json) as { tf: string; tfjsNode: string };
  return { tensorflow: v.tf, tfjsNode: v.tfjsNode, source, onednnOpts, onednn: parseOneDnnVerbose(out) };
}

/** One line naming the machine, for the head of a benchmark table. */
export function describeMachine(cpu: CpuInfo, build?: TensorFlowBuild): string {
  const cores = cpu.physicalCores !== undefined ? ` (${cpu.physicalCores} cores)` : "";
  const ext = cpu.extensions.filter((e) => SUMMARY_EXTENSIONS.includes(e));
  const parts = [cpu.model, `${cpu.logicalCpus} CPUs${cores}`, ext.length ? ext.join(" ") : "no AVX2"];
  if (build?.tensorflow) {
    const isa = build.onednn?.isa ? ` (${build.onednn.isa})` : "";
    const dnn = !build.onednnOpts ?
      "oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)"
      : build.onednn
      ? `oneDNN ${build.onednn.version ?? "?"}${isa}`
      : "oneDNN not reported";
    parts.push(`TensorFlow ${build.tensorflow}, ${dnn}`);
  } else if (build?.error) parts.push(`no native TensorFlow: ${build.error}`);
  return parts.join(" · ");
}
