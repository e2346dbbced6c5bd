// One resolver: a run folder stands for checkpoints/best/ where a best epoch was selected, else its last
// checkpoint; every command that takes a run folder (predict, evaluate, export, demo, probe-bias, the bench)
// goes through modelFolder, so they all serve the same model. Labels are read from config.json in one place.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { modelFolder, readLabels, labelsOf, lastCheckpoint, bestDir } from "../lib/model/run_folder";
import { exportOnnx } from "../lib/serve/export";
import { tinyCheckpoint, onnxSkip, fp32OnnxBytes } from "./helpers/onnx";
import { tmpDir } from "./helpers/tmp";

const tmp = tmpDir("bertlab-runfolder-");

/** A run folder with epochs 1 and 2 (complete) and, if asked, best/ = epoch 1; config.json says which folder it is. */
function runFolder(name: string, withBest: boolean): string {
  const run = path.join(tmp, name);
  const mark = (dir: string, which: string) => {
    const file = path.join(dir, "config.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), bertlab_test_folder: which }),
    );
  };
  for (const epoch of [1, 2]) {
    const dir = tinyCheckpoint(path.join(run, "checkpoints", `epoch-${epoch}`));
    fs.writeFileSync(path.join(dir, "trainer_state.json"), "{}");
    mark(dir, `epoch-${epoch}`);
  }
  if (withBest) mark(tinyCheckpoint(bestDir(run)), "best");
  return run;
}
const which = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")).bertlab_test_folder;

test("modelFolder: a model folder is itself; a run folder is its best/, else its last checkpoint", () => {
  const withBest = runFolder("with-best", true);
  const lastOnly = runFolder("last-only", false);
  assert.equal(modelFolder(withBest), bestDir(withBest));
  assert.equal(modelFolder(lastOnly), lastCheckpoint(lastOnly)!.dir);
  assert.equal(which(modelFolder(lastOnly)), "epoch-2");
  const epoch1 = path.join(withBest, "checkpoints", "epoch-1");
  assert.equal(modelFolder(epoch1), epoch1);
  assert.throws(
    () => modelFolder(path.join(tmp, "nothing-here")),
    /neither a model folder \(config\.json\) nor a run folder/,
  );
});

test("readLabels: id order from config.json, and clear errors naming the file", () => {
  assert.deepEqual(labelsOf({ id2label: { "1": "sad", "0": "happy", "10": "angry", "2": "calm" } }), [
    "happy",
    "sad",
    "calm",
    "angry",
  ]);
  assert.deepEqual(labelsOf({}), []);
  const dir = path.join(tmp, "labels");
  fs.mkdirSync(dir);
  assert.throws(() => readLabels(dir), /config\.json is missing: not a model folder/);
  fs.writeFileSync(path.join(dir, "config.json"), "{ not json");
  assert.throws(() => readLabels(dir), /config\.json: not valid JSON/);
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "bert" }));
  assert.throws(() => readLabels(dir), /has no id2label: not a fine-tuned classifier/);
});

test("export of a run folder serves the same model as predict and evaluate: best/", { skip: onnxSkip }, async () => {
  const run = runFolder("export-run", true);
  const out = path.join(tmp, "export-out");
  await exportOnnx(run, out, { onnxBytes: fp32OnnxBytes });
  assert.equal(which(out), "best");
});
