/**
 * bertlab's public API, one import for notebooks and users (package.json `exports`):
 *
 *   import { loadCourseData, train, evaluate, predict } from "bertlab";   // from another package
 *   import { loadCourseData, train } from "./lib";                         // in this repo's notebooks
 *
 * lib/ is cut into layers, lowest first; each folder's index.ts says what it holds, and a folder imports
 * only from the folders listed before it (test/layout.test.ts checks it). docs/architecture.md draws them.
 */
export * from "./core/index";
export * from "./view/index";
export * from "./runtime/index";
export * from "./config/index";
export * from "./data/index";
export * from "./nn/index";
export * from "./graph/index";
export * from "./model/index";
export * from "./eval/index";
export * from "./train/index";
export * from "./serve/index";
export * from "./analysis/index";
export * from "./teach/index";
