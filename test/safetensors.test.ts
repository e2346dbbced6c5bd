// Tests for lib/nn/safetensors.ts: tiny literal files, round trips, corrupt files, and files from/for Python.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import {
  parseSafetensors,
  serializeSafetensors,
  readSafetensors,
  writeSafetensors,
  readSafetensorsHeader,
  parseHeader,
} from "../lib/nn/safetensors";
import { VENV_PYTHON } from "../lib/core/paths";
import { tmpDir } from "./helpers/tmp";

const tmp = () => tmpDir("st-");

/** Builds a file by hand: header JSON + raw bytes. */
function rawFile(header: object, data: Uint8Array): Uint8Array {
  const h = Buffer.from(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test("reads a hand-made file: F32, F16, BF16 and I64 become float32/int32", () => {
  const f32 = new Float32Array([1.5, -2]);
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001]); // 1, -2, smallest subnormal
  const bf16 = new Uint16Array([0x3fc0]); // 1.5
  const i64 = new BigInt64Array([7n, -3n]);
  const bytes = Buffer.concat([
    Buffer.from(f32.buffer),
    Buffer.from(f16.buffer),
    Buffer.from(bf16.buffer),
    Buffer.from(i64.buffer),
  ]);
  const file = rawFile({
    __metadata__: { format: "pt" },
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    h: { dtype: "F16", shape: [3], data_offsets: [8, 14] },
    b: { dtype: "BF16", shape: [1, 1], data_offsets: [14, 16] },
    i: { dtype: "I64", shape: [2], data_offsets: [16, 32] },
  }, bytes);
  const { tensors, metadata } = parseSafetensors(file);
  assert.deepEqual(metadata, { format: "pt" });
  assert.deepEqual(Array.from(tensors.get("a")!.data), [1.5, -2]);
  assert.deepEqual(Array.from(tensors.get("h")!.data), [1, -2, 2 ** -24].map((v) => Math.fround(v)));
  assert.deepEqual(tensors.get("b")!.shape, [1, 1]);
  assert.deepEqual(Array.from(tensors.get("b")!.data), [1.5]);
  assert.equal(tensors.get("i")!.dtype, "int32");
  assert.deepEqual(Array.from(tensors.get("i")!.data), [7, -3]);
  assert.equal(tensors.get("i")!.sourceDtype, "I64");
});

test("round trip: names sorted, header padded to 8 bytes, values and shapes kept, input untouched", () => {
  const a = new Float32Array([1, 2, 3, 4, 5, 6]);
  const tensors = {
    "z.weight": { dtype: "float32" as const, shape: [2, 3], data: a },
    "a.ids": { dtype: "int32" as const, shape: [2], data: new Int32Array([5, -1]) },
    "empty": { dtype: "float32" as const, shape: [0, 4], data: new Float32Array(0) },
  };
  const bytes = serializeSafetensors(tensors);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0, "header length is a multiple of 8");
  const { entries } = parseHeader(bytes);
  assert.deepEqual([...entries.keys()], ["a.ids", "empty", "z.weight"]);
  assert.deepEqual(entries.get("a.ids")!.data_offsets, [0, 8]);
  const back = parseSafetensors(bytes);
  assert.deepEqual(back.metadata, { format: "pt" });
  assert.deepEqual(Array.from(back.tensors.get("z.weight")!.data), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(back.tensors.get("z.weight")!.shape, [2, 3]);
  assert.deepEqual(Array.from(back.tensors.get("a.ids")!.data), [5, -1]);
  assert.deepEqual(back.tensors.get("empty")!.shape, [0, 4]);
  assert.deepEqual(Array.from(a), [1, 2, 3, 4, 5, 6]);
  const dir = tmp();
  const file = path.join(dir, "m.safetensors");
  writeSafetensors(file, tensors);
  assert.deepEqual(fs.readdirSync(dir), ["m.safetensors"], "no temporary file left behind");
  assert.deepEqual(Array.from(readSafetensors(file).tensors.get("z.weight")!.data), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(readSafetensorsHeader(file).get("z.weight")!.shape, [2, 3]);
  assert.throws(
    () => serializeSafetensors({ x: { dtype: "float32", shape: [3], data: new Float32Array(2) } }),
    /tensor "x" has 2 values but shape \[3\] needs 3/,
  );
});

test("corrupt and truncated files give errors naming the file and the tensor", () => {
  const good = serializeSafetensors({ w: { dtype: "float32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } });
  const dir = tmp();
  const cut = path.join(dir, "cut.safetensors");
  fs.writeFileSync(cut, good.subarray(0, good.length - 4));
  assert.throws(
    () => readSafetensors(cut),
    (e: Error) =>
      e.message.includes(cut) && /tensor "w".*run past the 12 data bytes \(truncated file\?\)/.test(e.message),
  );
  assert.throws(() => parseSafetensors(good.subarray(0, 5), "x.st"), /x\.st: file is 5 bytes/);
  assert.throws(() => parseSafetensors(good.subarray(0, 20), "x.st"), /header length \d+ runs past the end/);
  const bad = (header: object, bytes = 16) => () => parseSafetensors(rawFile(header, new Uint8Array(bytes)), "bad.st");
  assert.throws(
    bad({ w: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }),
    /bad\.st: tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets give 16/,
  );
  assert.throws(bad({ w: { dtype: "C64", shape: [2], data_offsets: [0, 16] } }), /tensor "w": unsupported dtype "C64"/);
  assert.throws(bad({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }), /tensor "w": bad shape/);
  assert.throws(bad({ w: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }), /tensor "w": bad data_offsets/);
  assert.throws(
    bad({
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    }),
    /tensors "a" and "b" overlap/,
  );
  assert.throws(
    () => parseSafetensors(Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{x}")]), "j.st"),
    /j\.st: header is not valid JSON/,
  );
  const big = new BigInt64Array([1n << 40n]);
  assert.throws(
    () =>
      parseSafetensors(
        rawFile({ i: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(big.buffer)),
        "i.st",
      ),
    /tensor "i": I64 value 1099511627776 .* does not fit in int32/,
  );
});

const havePy = fs.existsSync(VENV_PYTHON);
test("interoperates with Python's safetensors (both directions)", {
  skip: havePy ? false : `no ${VENV_PYTHON}: run scripts/setup.sh`,
}, () => {
  const dir = tmp();
  const fromPy = path.join(dir, "py.safetensors"), fromTs = path.join(dir, "ts.safetensors");
  writeSafetensors(fromTs, { "b.x": { dtype: "float32", shape: [2, 2], data: new Float32Array([0.5, 1, 2, 4]) } });
  const script = `
import torch, sys, json
from safetensors.torch import save_file, load_file
save_file({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4, "h": torch.tensor([1.0, -0.5], dtype=torch.float16),
           "ids": torch.tensor([[1, 2]], dtype=torch.int64)}, sys.argv[1], metadata={"format": "pt"})
t = load_file(sys.argv[2])
print(json.dumps({k: v.tolist() for k, v in t.items()}))
`;
  const r = spawnSync(VENV_PYTHON, ["-c", script, fromPy, fromTs], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { "b.x": [[0.5, 1], [2, 4]] });
  const { tensors } = readSafetensors(fromPy);
  assert.deepEqual(Array.from(tensors.get("w")!.data), [0, 0.25, 0.5, 0.75, 1, 1.25]);
  assert.deepEqual(tensors.get("w")!.shape, [2, 3]);
  assert.deepEqual(Array.from(tensors.get("h")!.data), [1, -0.5]);
  assert.deepEqual(Array.from(tensors.get("ids")!.data), [1, 2]);
});
