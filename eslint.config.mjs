// typescript-eslint's recommended rules over the library, the scripts and the tests (npm run lint).
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".venv/", "out/", "runs/", ".cache/", "models/", "data/"] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    // bin/ and the kernel launcher are plain CommonJS scripts run by Node without a build step.
    files: ["**/*.js"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "readonly", process: "readonly", __dirname: "readonly", console: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // These load a package found at run time (a native TensorFlow binding, its message definitions) by path.
    files: ["lib/runtime/backend.ts", "lib/graph/tfgraph.ts", "scripts/provision-backend.ts", "test/tfgraph.test.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Tests probe plotly figures, executed notebooks and JSON fixtures: shapes no type describes.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    rules: {
      // `_name` marks a parameter or binding kept for its position or its documentation.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
);
