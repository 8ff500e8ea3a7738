// Lint rules: strict TypeScript, no `any`, and the layering of src/ (kernels import nothing
// of ours; optimizers never import the command-line interface).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "docs/api/", "reports/", "node_modules/", "coverage/", "playground/dist/"] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-properties": [
        "error",
        {
          object: "Math",
          property: "random",
          message: "Use the counter-based generator in src/random.",
        },
      ],
    },
  },
  {
    files: ["src/kernels/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["../*", "../../*"], message: "kernels import nothing of ours." }] },
      ],
    },
  },
  {
    files: [
      "src/params/**",
      "src/oracles/**",
      "src/optim/**",
      "src/random/**",
      "src/linalg/**",
      "src/zo/**",
    ],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/cli/*", "**/bench/*"],
              message: "library layers never import the CLI or benchmarks.",
            },
          ],
        },
      ],
    },
  },
);
