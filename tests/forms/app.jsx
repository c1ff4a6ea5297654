// The host page: renders the generated credential form (schemas/flowlu/) with
// react-jsonschema-form (?r=rjsf) or JSON Forms' vanilla renderers (?r=jsonforms), wired only
// with what the descriptor delivers (the schema and the uiSchemas) and ajv-errors, as the
// README's "Rendering the form" section says.
import React, { useState } from "react";
import { createRoot } from "react-dom/client";
import Form from "@rjsf/core";
import { customizeValidator } from "@rjsf/validator-ajv8";
import { JsonForms } from "@jsonforms/react";
import { createAjv } from "@jsonforms/core";
import { vanillaCells, vanillaRenderers } from "@jsonforms/vanilla-renderers";
import ajvErrors from "ajv-errors";

const form = window.FORM;

// RJSF: ajv-errors shows the schema's `errorMessage` (the README's "Rendering the form" lines).
const validator = customizeValidator();
ajvErrors(validator.ajv);

function Rjsf() {
  const [submitted, setSubmitted] = useState(null);
  return (
    <>
      <Form
        schema={form.schema}
        uiSchema={form.ui_schema}
        validator={validator}
        showErrorList={false}
        onSubmit={({ formData }) => setSubmitted(formData)}
      />
      {submitted && <pre id="submitted">{JSON.stringify(submitted)}</pre>}
    </>
  );
}

// JSON Forms: ajv-errors shows the schema's `errorMessage`.
const ajv = createAjv();
ajvErrors(ajv);

function JsonFormsHost() {
  const [state, setState] = useState({ data: {}, errors: [] });
  return (
    <>
      <JsonForms
        schema={form.schema}
        uischema={form.json_forms_ui_schema}
        data={state.data}
        renderers={vanillaRenderers}
        cells={vanillaCells}
        ajv={ajv}
        onChange={({ data, errors }) => setState({ data, errors })}
      />
      <pre id="errors">{JSON.stringify(state.errors.map((e) => e.instancePath + " " + e.message))}</pre>
    </>
  );
}

const which = new URLSearchParams(location.search).get("r");
createRoot(document.getElementById("root")).render(which === "jsonforms" ? <JsonFormsHost /> : <Rjsf />);
