// Bundles app.jsx into dist/app.js (one file, no network at run time), served by the
// reference host at /app.js.
//
// The forms' validators are precompiled here (Ajv's standalone code, through RJSF's
// compileSchemaValidatorsCode) from the generated credential schema, so the page never
// compiles code at run time and its content security policy needs no 'unsafe-eval'. They
// live only in the bundle (virtual modules, no generated file to go stale beside it); the
// bundle also carries the schemas they were compiled from, and the page refuses to show a
// form when the server's schema differs (a bundle built before the schema changed).
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { rotateSchema, secretPaths } from "./forms.mjs";

const require = createRequire(import.meta.url);
const { compileSchemaValidatorsCode } = require("@rjsf/validator-ajv8/dist/compileSchemaValidators");
const here = path.dirname(fileURLToPath(import.meta.url));
const schemaFile = path.resolve(here, "../../schemas/flowlu/credential.schema.json");
const credential = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
const rotate = rotateSchema(credential, secretPaths(credential));
// The options of the page's validator (none: RJSF's defaults).
const modules = {
  "precompiled:credential": { loader: "js", contents: compileSchemaValidatorsCode(credential, {}) },
  "precompiled:rotate": { loader: "js", contents: compileSchemaValidatorsCode(rotate, {}) },
  "precompiled:schemas": { loader: "json", contents: JSON.stringify({ credential, rotate }) },
};
const precompiled = {
  name: "precompiled",
  setup(b) {
    b.onResolve({ filter: /^precompiled:/ }, (args) => ({ path: args.path, namespace: "precompiled" }));
    b.onLoad({ filter: /.*/, namespace: "precompiled" }, (args) => ({ ...modules[args.path], resolveDir: here }));
  },
};
await build({
  entryPoints: [path.join(here, "app.jsx")],
  bundle: true,
  outfile: path.join(here, "dist/app.js"),
  format: "iife",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  minify: true,
  logLevel: "warning",
  plugins: [precompiled],
});
console.log(`built dist/app.js (validators precompiled from ${path.relative(path.resolve(here, "../.."), schemaFile)})`);
