// lib/runtime/machine.ts: the CPU and TensorFlow build a benchmark names, from /proc/cpuinfo and oneDNN's own words.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCpuinfo, parseOneDnnVerbose, describeMachine, cpuInfo, tensorflowBuild } from "../lib/runtime/machine";
import { VECTOR_EXTENSIONS } from "../lib/runtime/machine";
import { nativeVerdict } from "../lib/runtime/backend";

/** One /proc/cpuinfo entry, cut to the fields read (real values from the two machines the README reports). */
const entry = (p: number, model: string, vendor: string, core: number, flags: string) =>
  `processor\t: ${p}\nvendor_id\t: ${vendor}\nmodel name\t: ${model}\nphysical id\t: 0\nsiblings\t: 2\n` +
  `core id\t\t: ${core}\ncpu cores\t: ${vendor === "GenuineIntel" ? 1 : 2}\nflags\t\t: ${flags}\nbogomips\t: 5192.26\n`;
const AMD_FLAGS = "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl " +
  "avx512_bf16 avx512vbmi avx512_vnni avx512_bitalg";
const XEON_FLAGS = "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl " +
  "avx_vnni avx512_bf16 avx512_vnni avx512_fp16 amx_bf16 amx_tile amx_int8";

test("parseCpuinfo: model, CPUs, cores and vector extensions", () => {
  const amd = parseCpuinfo([0, 1].map((p) => entry(p, "AMD EPYC", "AuthenticAMD", p, AMD_FLAGS)).join("\n"));
  assert.deepEqual(amd, {
    model: "AMD EPYC",
    vendor: "AuthenticAMD",
    logicalCpus: 2,
    physicalCores: 2,
    extensions: ["sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"],
  });
  // Two hyper-threads of one core: 2 CPUs, 1 core; AMX shows up.
  const model = "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz";
  const xeon = parseCpuinfo([0, 1].map((p) => entry(p, model, "GenuineIntel", 0, XEON_FLAGS)).join("\n"));
  assert.equal(xeon.logicalCpus, 2);
  assert.equal(xeon.physicalCores, 1);
  assert.deepEqual(xeon.extensions.slice(-4), ["avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"]);
  assert.equal(
    describeMachine(xeon),
    "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz · 2 CPUs (1 cores) · " +
      "avx2 avx512f avx512_vnni avx512_bf16 avx512_fp16 amx_tile amx_bf16",
  );
  // Without core ids (some ARM and VM kernels), cores are not guessed.
  assert.equal(parseCpuinfo("processor\t: 0\nflags\t: neon\n").physicalCores, undefined);
  assert.equal(parseCpuinfo("processor\t: 0\n").model, "unknown CPU");
  assert.throws(() => parseCpuinfo("MemTotal: 1 kB\n"), /no "processor" entries/);
});

test("parseOneDnnVerbose: version, instruction set and threads from oneDNN's info lines", () => {
  const log = [
    "I0000 00:00:1796125162.352413   23750 port.cc:153] oneDNN custom operations are on.",
    "onednn_verbose,v1,info,oneDNN v3.7.3 (commit N/A)",
    "onednn_verbose,v1,info,cpu,runtime:threadpool,nthr:2",
    "onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with Intel DL Boost and bfloat16 support",
    "onednn_verbose,v1,info,gpu,runtime:none",
    "onednn_verbose,v1,primitive,exec,cpu,matmul,brg_matmul:avx512_core,undef,src:f32,,,64x64:64x64,0.1",
  ].join("\n");
  assert.deepEqual(parseOneDnnVerbose(log), {
    version: "v3.7.3",
    isa: "Intel AVX-512 with Intel DL Boost and bfloat16 support",
    runtime: "threadpool",
    threads: 2,
  });
  // oneDNN 2.x wrote no "v1," field.
  assert.equal(parseOneDnnVerbose("onednn_verbose,info,oneDNN v2.7.1 (commit abc)\n")?.version, "v2.7.1");
  assert.equal(parseOneDnnVerbose("nothing from oneDNN\n"), undefined);
});

const noNative = !nativeVerdict().ok && "needs native TensorFlow";
test("this machine: CPU read, and the native build's versions as oneDNN reports them", { skip: noNative }, () => {
  const cpu = cpuInfo();
  assert.ok(cpu.logicalCpus >= 1 && cpu.model.length > 0);
  assert.ok(cpu.extensions.every((e) => (VECTOR_EXTENSIONS as readonly string[]).includes(e)));
  const build = tensorflowBuild();
  assert.equal(build.error, undefined);
  assert.match(build.tensorflow ?? "", /^2\.\d+\.\d+/);
  assert.match(build.tfjsNode ?? "", /^4\.\d+\.\d+/);
  if (build.onednnOpts) {
    assert.match(build.onednn?.version ?? "", /^v\d+\.\d+/);
    assert.ok((build.onednn?.threads ?? 0) >= 1);
  }
  assert.match(describeMachine(cpu, build), /TensorFlow 2\.\d+\.\d+, oneDNN /);
});
