/**
 * Kill and resume, the two ways tests interrupt a run and check that resuming it loses nothing:
 *   - `stopAndResume`: train() stopped after epoch k (as if killed once that epoch's checkpoint was written), resumed
 *     from its run folder, and compared with an uninterrupted run of the same config;
 *   - `killWhen`: the command line in a child process, killed with SIGKILL as soon as its stderr says something.
 *
 *   const r = await stopAndResume(config, { data, model: tiny, tokenizer: toyTokenizer }, {
 *     same: (run) => run.history.map((h) => h.trainLoss),   // asserted equal for the resumed and the full run
 *   });
 *   r.part.history.length   // 1
 */
import assert from "node:assert/strict";
import { spawn } from "child_process";
import { train, TrainOptions, TrainResult } from "../../lib/train/train";
import { TrainConfig } from "../../lib/config/config";
import { BertForSequenceClassification } from "../../lib/model/bert";
import { tmpDir } from "./tmp";

export interface StopAndResumeOptions {
  /** The epoch after which the interrupted run stops (default 1). */
  stopAfterEpoch?: number;
  /** The uninterrupted run, when the test has trained it already; else trained here in a run folder of its own. */
  full?: TrainResult;
  /** Runs between the interruption and the resumption (e.g. to check the run folder, or what is refused). */
  beforeResume?: (runDir: string, part: TrainResult) => void | Promise<void>;
  /** What must be the same after a resume as without an interruption (asserted deepEqual). */
  same?: (run: TrainResult) => unknown;
  /** Keep the resumed run's model for the caller (who disposes it); otherwise every model trained here is freed. */
  keepModel?: boolean;
}

/**
 * Trains `config` from scratch (`run.model()`) in a fresh run folder, stopped after epoch k; resumes it there; and
 * asserts that the stopped run said it was interrupted after k epochs, and that `same` gives the same for the
 * resumed run as for the uninterrupted one.
 */
export async function stopAndResume(
  config: TrainConfig,
  run: Pick<TrainOptions, "data" | "tokenizer" | "log"> & { model?: () => BertForSequenceClassification },
  opts: StopAndResumeOptions = {},
): Promise<{ full: TrainResult; part: TrainResult; resumed: TrainResult; runDir: string }> {
  const k = opts.stopAfterEpoch ?? 1;
  const base = { data: run.data, tokenizer: run.tokenizer, log: run.log ?? (() => {}) };
  const tmp = () => tmpDir("bertlab-resume-");
  let full = opts.full;
  if (!full) {
    full = await train(config, { ...base, model: run.model?.(), runDir: tmp() });
    full.model.dispose();
  }
  const runDir = tmp();
  const part = await train(config, { ...base, model: run.model?.(), runDir, stopAfterEpoch: k });
  part.model.dispose();
  assert.deepEqual([part.interrupted, part.history.length], [true, k], `the run stops after epoch ${k}`);
  await opts.beforeResume?.(runDir, part);
  const resumed = await train(config, { ...base, runDir, resume: true });
  if (!opts.keepModel) resumed.model.dispose();
  if (opts.same) assert.deepEqual(opts.same(resumed), opts.same(full), "the resumed run gives what the whole run gave");
  return { full, part, resumed, runDir };
}

/**
 * Runs `node --import tsx <script> ...args` and kills it with SIGKILL as soon as its stderr matches `when`; resolves
 * once it has exited, with what it wrote to stderr. Rejects when it exits before that.
 */
export async function killWhen(script: string, args: string[], when: RegExp): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let said = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (d) => {
      said += d;
      if (when.test(said)) {
        child.kill("SIGKILL");
        resolve();
      }
    });
    child.on("exit", () => reject(new Error(`the run ended before it was killed: ${said}`)));
  });
  await new Promise((resolve) => child.on("exit", resolve));
  return said;
}
