// The schemas the page's forms validate, derived from the credential schema: imported by the
// page (app.jsx, from what the server sends) and by the build (build.mjs, from the generated
// schemas/flowlu/credential.schema.json, to precompile their validators), so both derive them
// the same way.

// The markers of a secret property (connector_core::host's SECRET_FLAGS).
const SECRET_FLAGS = ["writeOnly", "airbyte_secret", "secret"];

// The top-level secret properties of a schema, in its order.
export const secretPaths = (schema) =>
  Object.entries(schema.properties || {})
    .filter(([, p]) => SECRET_FLAGS.some((flag) => p && p[flag] === true))
    .map(([name]) => name);

// The rotation form: the secrets alone, each required.
export const rotateSchema = (schema, secrets) => ({
  type: "object",
  required: secrets,
  properties: Object.fromEntries(secrets.map((p) => [p, schema.properties[p]])),
});
