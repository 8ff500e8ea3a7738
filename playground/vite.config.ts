// Builds the playground page. `descend` resolves to the package's browser entry point in this
// repository, so the page runs the sources exactly as a bundler would ship them.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here("."),
  // Relative asset paths: the built page works from any folder it is served from.
  base: "./",
  publicDir: false,
  resolve: { alias: { descend: here("../src/browser.ts") } },
  build: {
    outDir: here("dist"),
    emptyOutDir: true,
    target: "es2022",
    // The digits file must stay a separate download, not a data: URL inside the script.
    assetsInlineLimit: 0,
  },
  server: { host: "127.0.0.1", fs: { allow: [here("..")] } },
  preview: { host: "127.0.0.1" },
});
