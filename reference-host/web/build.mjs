// Bundles app.jsx into dist/app.js (one file, no network at run time), served by the
// reference host at /app.js. The one bundling script of the workspace's pages: run from the
// page's folder (`node build.mjs` here; tests/forms runs `node ../../reference-host/web/build.mjs`),
// it bundles that folder's app.jsx with that folder's esbuild (its own lock file).
//
// A page that imports `precompiled:credential`, `precompiled:rotate` or `precompiled:schemas`
// (the reference host's) gets its forms' validators precompiled here (Ajv's standalone code,
// through RJSF's compileSchemaValidatorsCode, from that folder's packages) from the generated
// schemas/flowlu/credential.schema.json, so it never compiles code at run time and its content
// security policy needs no 'unsafe-eval'. They live only in the bundle (virtual modules, no
// generated file to go stale beside it); the bundle also carries the schemas they were
// compiled from, and the page refuses to show a form when the server's schema differs (a
// bundle built before the schema changed).
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rotateSchema, secretPaths } from "./forms.mjs";

const page = process.cwd();
const require = createRequire(path.join(page, "package.json"));
const { build } = require("esbuild");
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const schemaFile = path.join(root, "schemas/flowlu/credential.schema.json");

// The virtual modules, made when a page first imports one.
let modules;
function precompiledModules() {
  if (!modules) {
    const { compileSchemaValidatorsCode } = require("@rjsf/validator-ajv8/dist/compileSchemaValidators");
    const credential = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
    const rotate = rotateSchema(credential, secretPaths(credential));
    // The options of the page's validator (none: RJSF's defaults).
    modules = {
      "precompiled:credential": { loader: "js", contents: compileSchemaValidatorsCode(credential, {}) },
      "precompiled:rotate": { loader: "js", contents: compileSchemaValidatorsCode(rotate, {}) },
      "precompiled:schemas": { loader: "json", contents: JSON.stringify({ credential, rotate }) },
    };
  }
  return modules;
}
const precompiled = {
  name: "precompiled",
  setup(b) {
    b.onResolve({ filter: /^precompiled:/ }, (args) => ({ path: args.path, namespace: "precompiled" }));
    b.onLoad({ filter: /.*/, namespace: "precompiled" }, (args) => ({ ...precompiledModules()[args.path], resolveDir: page }));
  },
};
await build({
  entryPoints: ["app.jsx"],
  bundle: true,
  outfile: "dist/app.js",
  format: "iife",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  minify: true,
  logLevel: "warning",
  plugins: [precompiled],
});
console.log(modules
  ? `built dist/app.js (validators precompiled from ${path.relative(root, schemaFile)})`
  : "built dist/app.js");
