#!/usr/bin/env node
// Starts the tslab kernel with the project root as its working directory, so that notebooks
// import the library as "./lib/..." (tslab compiles with rootDir = cwd and refuses files outside it).
const path = require("path");
const root = path.resolve(__dirname, "..");
process.chdir(root);
require(path.join(root, "node_modules", "tslab", "dist", "main.js")).main();
