// Bundles app.jsx into dist/app.js (one file, no network at run time), served by the
// reference host at /app.js.
import { build } from "esbuild";
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
