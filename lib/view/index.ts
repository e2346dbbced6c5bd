/**
 * lib/view/ — what a person sees of a run: plotly charts as HTML, and the progress line of a training run.
 *
 * May import: core (test/layout.test.ts checks it).
 */
export * from "./plot";
export * from "./progress";
