/**
 * Stochastic weight averaging (Izmailov et al., UAI 2018) over a run's last epochs: the weights after each of the
 * last k epochs are averaged uniformly, and the run ends with that average instead of the last epoch's weights. On
 * a flat stretch of the loss the average sits nearer the middle than any one epoch, which generalises better; it
 * costs a copy of the weights. The running mean is saved with each checkpoint in the window (swa.safetensors), so
 * that an interrupted run resumes with it.
 *
 *   const swa = WeightAverage.open(cfg);                      // undefined when cfg.swaEpochs is 0
 *   swa?.add(model, epoch);                                   // after each epoch's steps; the last one applies it
 *
 * Averaging the saved checkpoints afterwards gives the same model: `bertlab soup` (lib/eval/soup.ts).
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { TrainConfig } from "../config/config";
import { BertForSequenceClassification } from "../model/bert";
import { readSafetensors, serializeSafetensors } from "../nn/safetensors";
import { toSafeTensors } from "../nn/weights";

export const SWA_FILE = "swa.safetensors";

export class WeightAverage {
  private mean = new Map<string, tf.Tensor>();
  private count = 0;

  private constructor(readonly from: number, readonly to: number) {}

  /** The average cfg asks for (none when swaEpochs is 0); resuming from `checkpoint` takes its running mean. */
  static open(cfg: TrainConfig, checkpoint?: { dir: string; epoch: number }): WeightAverage | undefined {
    if (cfg.swaEpochs === 0) return undefined;
    const swa = new WeightAverage(cfg.epochs - cfg.swaEpochs + 1, cfg.epochs);
    if (checkpoint && checkpoint.epoch >= swa.from) swa.restore(checkpoint.dir, checkpoint.epoch - swa.from + 1);
    return swa;
  }

  /** Adds the weights after `epoch` if it is in the window; after the last one, the model gets the mean (then true). */
  add(model: BertForSequenceClassification, epoch: number): boolean {
    if (epoch < this.from) return false;
    this.count++;
    for (const [name, w] of model.params) {
      const old = this.mean.get(name);
      // mean += (w − mean) / n: each epoch counts 1/n, with no sum that grows.
      this.mean.set(name, old ? tf.tidy(() => old.add(w.sub(old).div(this.count))) : tf.clone(w));
      old?.dispose();
    }
    if (epoch !== this.to) return false;
    for (const [name, w] of model.params) w.assign(this.mean.get(name)!);
    return true;
  }

  /** What the log says once the average is the model. */
  describe(): string {
    return `the model is the average of the weights after epochs ${this.from}–${this.to} (stochastic weight averaging)`;
  }

  /** The checkpoint files that carry the running mean (none before the window). */
  files(): Record<string, Uint8Array> {
    if (this.count === 0) return {};
    return { [SWA_FILE]: serializeSafetensors(toSafeTensors(this.mean), { count: String(this.count) }) };
  }

  dispose(): void {
    tf.dispose([...this.mean.values()]);
    this.mean.clear();
  }

  private restore(dir: string, count: number): void {
    const file = path.join(dir, SWA_FILE);
    if (!fs.existsSync(file)) throw new Error(`${dir} has no ${SWA_FILE}: it was not saved by a run with --swa-epochs`);
    const saved = readSafetensors(file);
    const n = Number(saved.metadata.count);
    if (n !== count) throw new Error(`${file} averages ${n} epochs, the checkpoint's epoch needs ${count}`);
    for (const [name, t] of saved.tensors) this.mean.set(name, tf.tensor(t.data, t.shape, "float32"));
    this.count = n;
  }
}
