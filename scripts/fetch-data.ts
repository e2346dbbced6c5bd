/**
 * Puts the SMILE Twitter Emotion CSV at data/smile-annotations-final.csv, verified by sha256:
 * copied from the course's shared folder (../shared/data/smile/) when it is there, otherwise
 * downloaded from the figshare record (DOI 10.6084/m9.figshare.3187909.v2). Idempotent: a verified
 * file already in place is left alone. The CSV is never committed (its tweets belong to Twitter).
 *
 *   npx tsx scripts/fetch-data.ts            # prints e.g. "copied data/smile-annotations-final.csv from ../shared/data/smile"
 *   BERTLAB_SMILE_URL=http://mirror/x.csv npx tsx scripts/fetch-data.ts --download
 *
 * Options: --download (skip the shared copy), --url URL, --dest FILE, --shared DIR.
 *
 * CARER (lib/data/carer.ts), the larger corpus for learning before SMILE, is copied the same way into data/carer/
 * when the shared folder has it; it has no public download bertlab may use, so without it set-up says how to add
 * it and goes on (only transfer from CARER needs it).
 */
import * as fs from "fs";
import * as path from "path";
import { downloadFile, sha256File } from "../lib/core/download";
import { writeFileAtomic } from "../lib/core/fsutil";
import { SMILE_CSV, SHARED_SMILE_DIR, ROOT, CARER_DIR, SHARED_CARER_DIR } from "../lib/core/paths";
import { SMILE_SHA256 } from "../lib/data/smile";
import { CARER_FILES } from "../lib/data/carer";

/** figshare's download link for smile-annotations-final.csv (file 4988956 of article 3187909). */
export const SMILE_URL = "https://figshare.com/ndownloader/files/4988956";
export const SMILE_FILE = "smile-annotations-final.csv";
/** The course's reference split, copied beside the CSV when the shared folder has it. */
export const SPLIT_FILE = "split-test_size0.15-random_state17.json";

export interface FetchOptions {
  dest?: string;
  url?: string;
  /** The shared folder to copy from; pass a missing folder (or `download: true`) to force a download. */
  sharedDir?: string;
  download?: boolean;
  sha256?: string;
  log?: (line: string) => void;
}

export interface FetchResult {
  action: "present" | "copied" | "downloaded";
  file: string;
  source: string;
}

const rel = (p: string) => path.relative(ROOT, p) || p;

/** Ensures a verified SMILE CSV at `dest` (see the file comment). */
export async function fetchSmile(opts: FetchOptions = {}): Promise<FetchResult> {
  const dest = opts.dest ?? SMILE_CSV;
  const url = opts.url ?? process.env.BERTLAB_SMILE_URL ?? SMILE_URL;
  const sharedDir = opts.sharedDir ?? SHARED_SMILE_DIR;
  const sha = (opts.sha256 ?? SMILE_SHA256).toLowerCase();
  const log = opts.log ?? ((s: string) => console.log(s));

  // 1) already there and intact: nothing to do
  if (fs.existsSync(dest)) {
    const have = sha256File(dest);
    if (have === sha) {
      log(`present ${rel(dest)} (sha256 verified)`);
      return { action: "present", file: dest, source: dest };
    }
    log(`replacing ${rel(dest)}: its sha256 ${have} is not the published file's`);
  }

  // 2) the course's shared copy, verified before it is copied (atomically)
  const shared = path.join(sharedDir, SMILE_FILE);
  if (!opts.download && fs.existsSync(shared)) {
    const have = sha256File(shared);
    if (have !== sha) throw new Error(`${shared}: sha256 ${have} is not the published file's ${sha}; not copying it`);
    writeFileAtomic(dest, fs.readFileSync(shared));
    const split = path.join(sharedDir, SPLIT_FILE);
    if (fs.existsSync(split)) writeFileAtomic(path.join(path.dirname(dest), SPLIT_FILE), fs.readFileSync(split));
    log(`copied ${rel(dest)} from ${rel(sharedDir)}`);
    return { action: "copied", file: dest, source: shared };
  }

  // 3) figshare (downloadFile checks status, length and sha256, then renames into place)
  log(`downloading ${url} → ${rel(dest)}`);
  let last = 0;
  try {
    await downloadFile(url, dest, {
      sha256: sha,
      onProgress: (done, total) => {
        if (done - last >= 256 * 1024 || done === total) {
          last = done;
          log(`  ${(done / 1024).toFixed(0)} KiB${total ? ` of ${(total / 1024).toFixed(0)} KiB` : ""}`);
        }
      },
    });
  } catch (e) {
    // Offline, the only ways in are a copy the user already has: say where it goes and how to point at it.
    const shared = opts.download ? "" : ` No copy in ${rel(sharedDir)} either.`;
    throw new Error(
      `${(e as Error).message}.${shared} Put the published file (sha256 ${sha})`
        + ` at ${
          rel(dest)
        }, or run \`npx tsx scripts/fetch-data.ts --shared DIR\` with a folder that holds ${SMILE_FILE}`,
      { cause: e },
    );
  }
  log(`downloaded ${rel(dest)} (sha256 verified)`);
  return { action: "downloaded", file: dest, source: url };
}

/**
 * Ensures CARER's three files in `dest`, each checked by sha256: left alone when intact, else copied from `sharedDir`.
 * Returns false (after saying what to do) when they are neither here nor there.
 */
export function fetchCarer(opts: { dest?: string; sharedDir?: string; log?: (line: string) => void } = {}): boolean {
  const dest = opts.dest ?? CARER_DIR, sharedDir = opts.sharedDir ?? SHARED_CARER_DIR;
  const log = opts.log ?? ((s: string) => console.log(s));
  const names = Object.keys(CARER_FILES) as (keyof typeof CARER_FILES)[];
  const intact = (file: string, name: keyof typeof CARER_FILES) =>
    fs.existsSync(file) && sha256File(file) === CARER_FILES[name];
  if (names.every((n) => intact(path.join(dest, n), n))) {
    log(`present ${rel(dest)}/ (CARER, sha256 verified)`);
    return true;
  }
  if (!names.every((n) => fs.existsSync(path.join(sharedDir, n)))) {
    log(
      `CARER is not in ${rel(sharedDir)}: only learning from CARER first needs it; put its ${names.join(", ")}`
        + ` (header id,text,label) in ${rel(dest)}/`,
    );
    return false;
  }
  for (const n of names) {
    const src = path.join(sharedDir, n);
    if (!intact(src, n))
      throw new Error(
        `${src}: sha256 ${sha256File(src)} is not the published file's ${CARER_FILES[n]}; not copying it`,
      );
  }
  fs.mkdirSync(dest, { recursive: true });
  for (const n of names) writeFileAtomic(path.join(dest, n), fs.readFileSync(path.join(sharedDir, n)));
  log(`copied ${rel(dest)}/ (CARER) from ${rel(sharedDir)}`);
  return true;
}

function parseArgs(argv: string[]): FetchOptions {
  const opts: FetchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--download") opts.download = true;
    else if (a === "--url") opts.url = value();
    else if (a === "--dest") opts.dest = path.resolve(value());
    else if (a === "--shared") opts.sharedDir = path.resolve(value());
    else throw new Error(`unknown option ${a} (options: --download, --url URL, --dest FILE, --shared DIR)`);
  }
  return opts;
}

if (require.main === module) {
  fetchSmile(parseArgs(process.argv.slice(2))).then(() => fetchCarer()).catch((e: Error) => {
    console.error(`fetch-data: ${e.message}`);
    process.exit(1);
  });
}
