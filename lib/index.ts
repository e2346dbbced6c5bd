/**
 * bertlab's public API, one import for notebooks and users (package.json `exports`):
 *
 *   import { loadCourseData, train, evaluate, predict } from "bertlab";   // from another package
 *   import { loadCourseData, train } from "./lib";                         // in this repo's notebooks
 *
 * lib/ is cut into layers, lowest first; each folder's index.ts says what it holds, and a folder imports
 * only from the folders listed before it (test/layout.test.ts checks it). docs/architecture.md draws them.
 */
export * from "./core";
export * from "./view";
export * from "./runtime";
export * from "./config";
export * from "./data";
export * from "./nn";
export * from "./graph";
export * from "./model";
export * from "./eval";
export * from "./train";
export * from "./serve";
export * from "./analysis";
export * from "./teach";
