/**
 * CARER (Saravia et al., EMNLP 2018): 16,000 / 2,000 / 2,000 English tweets, each with one of six emotions. A model
 * learns the task here first, then on SMILE's 1,481 tweets (`--init-from`). Set-up copies the files from the course's
 * shared folder, checked by sha256; they are for education and research only, so never committed.
 *
 *   const data = loadTrainData(CARER_SOURCE);   // train 16,000, validation 2,000, test 2,000; labels in file order
 *   bertlab train --train-csv data/carer/train.csv --validation-csv data/carer/validation.csv \
 *     --test-csv data/carer/test.csv --text-column text --label-column label --id-column id
 */
import * as path from "path";
import { CARER_DIR } from "../core/paths";
import type { DataSource } from "./data";

/** The three files (header `id,text,label`) and their published sha256. */
export const CARER_FILES = {
  "train.csv": "dd8a07241105b009a24bd9c3e923c45a5695b652ba8e773d4f724971ae3f0015",
  "validation.csv": "57da167595084b13044ebab0dec45bafd6855c6ec500ae7243d7db8f6f834d4b",
  "test.csv": "7c780fbb6693c4dde56a0780708b99302cf277a7af901a7b10356a712eeec416",
} as const;

/** CARER as a data source for `loadTrainData` and `train`: its own validation and test files, no split. */
export const CARER_SOURCE: DataSource = {
  trainCsv: path.join(CARER_DIR, "train.csv"),
  validationCsv: path.join(CARER_DIR, "validation.csv"),
  testCsv: path.join(CARER_DIR, "test.csv"),
  textColumn: "text",
  labelColumn: "label",
  idColumn: "id",
};
