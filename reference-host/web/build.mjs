// Bundles app.jsx into dist/app.js (one file, no network at run time), served by the
// reference host at /app.js. The one bundling script of the workspace's pages: run from the
// page's folder (`node build.mjs` here; tests/forms runs `node ../../reference-host/web/build.mjs`),
// it bundles that folder's app.jsx with that folder's esbuild (its own lock file).
import { createRequire } from "node:module";
import { join } from "node:path";

const { build } = createRequire(join(process.cwd(), "package.json"))("esbuild");
await build({
  entryPoints: ["app.jsx"],
  bundle: true,
  outfile: "dist/app.js",
  format: "iife",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  minify: true,
  logLevel: "warning",
});
console.log("built dist/app.js");
