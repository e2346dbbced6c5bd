/**
 * Label sets read from a CSV cell (`happy|sad`) and turned into 0/1 rows: the data side of multi-label
 * classification (lib/eval/multilabel.ts holds its metrics and thresholds).
 *
 *   parseLabelSet("happy|sad", "|", "smile.csv line 4")   // ["happy", "sad"]
 *   multiHot([["happy", "sad"], ["angry"]], ["happy", "angry", "sad"])   // [[1, 0, 1], [0, 1, 0]]
 */

/** One cell's labels, split on `delimiter` and trimmed; an empty part ("happy||sad", "happy|") is an error. */
export function parseLabelSet(cell: string, delimiter: string, where: string): string[] {
  const parts = cell.split(delimiter).map((s) => s.trim());
  if (parts.some((p) => p === "")) {
    throw new Error(
      `${where}: empty label in ${JSON.stringify(cell)} `
        + `(multi-label mode: name every label between the ${JSON.stringify(delimiter)} delimiters)`,
    );
  }
  return [...new Set(parts)];
}

/** 0/1 rows: row i has a 1 at label k when sets[i] holds labels[k]. An unknown label is an error. */
export function multiHot(sets: readonly (readonly string[])[], labels: readonly string[]): number[][] {
  const id = new Map(labels.map((l, k) => [l, k]));
  return sets.map((set, i) => {
    const row = new Array<number>(labels.length).fill(0);
    for (const l of set) {
      const k = id.get(l);
      if (k === undefined)
        throw new Error(`example ${i}: label ${JSON.stringify(l)} is not in the label list (${labels.join(", ")})`);
      row[k] = 1;
    }
    return row;
  });
}
