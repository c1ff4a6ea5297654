// The reference host's page: credential tiles, "Add credential" (react-jsonschema-form over
// the generated schema and uiSchema), Save running the validation call with each failure at
// its field, edit with the masked key, rotate the key, delete, and "use for a source"
// (discover, then a preview of a stream's first records). Everything comes from the host's API;
// the page never receives a stored secret, only the mask.
import React, { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import Form, { getDefaultRegistry } from "@rjsf/core";
import { deepEquals } from "@rjsf/utils";
import createPrecompiledValidator from "@rjsf/validator-ajv8/lib/createPrecompiledValidator.js";
// Built by build.mjs from schemas/flowlu/credential.schema.json: the forms' validators as code,
// so nothing is compiled at run time (the page's content security policy has no 'unsafe-eval').
import credentialFns from "precompiled:credential";
import rotateFns from "precompiled:rotate";
import compiled from "precompiled:schemas";
import { rotateSchema } from "./forms.mjs";

const validators = {
  credential: createPrecompiledValidator(credentialFns, compiled.credential),
  rotate: createPrecompiledValidator(rotateFns, compiled.rotate),
};
const defaults = getDefaultRegistry().templates;

// Which of the server's forms the bundle's validators were not built from (a bundle older
// than the schema): none when the page can validate them.
const staleForms = (kind) => [
  ...(deepEquals(kind.schema, compiled.credential) ? [] : ["credential"]),
  ...(deepEquals(rotateSchema(kind.schema, kind.secrets), compiled.rotate) ? [] : ["rotate"]),
];

// Whether an RJSF error schema holds a message anywhere.
const hasErrors = (es) => !!es && typeof es === "object" &&
  Object.entries(es).some(([k, v]) => (k === "__errors" ? Array.isArray(v) && v.length > 0 : hasErrors(v)));

// The advanced settings stay folded until the user opens them (or one of them is wrong).
function ObjectFieldTemplate(props) {
  if (props.idSchema.$id !== "root_advanced") return <defaults.ObjectFieldTemplate {...props} />;
  const wrong = hasErrors(props.errorSchema);
  return (
    <details className="advanced" id="advanced-settings" {...(wrong ? { open: true } : {})}>
      <summary>{props.title}</summary>
      {props.description && <p className="muted">{props.description}</p>}
      {props.properties.map((p) => p.content)}
    </details>
  );
}

// Array buttons with words (RJSF's defaults are icon fonts this page does not load: blank).
const labelled = (text) => function LabelledButton({ className, onClick, disabled, style }) {
  return <button type="button" className={className} onClick={onClick} disabled={disabled} style={style}>{text}</button>;
};
const templates = {
  ObjectFieldTemplate,
  ButtonTemplates: {
    ...defaults.ButtonTemplates,
    AddButton: labelled("Add an item"),
    RemoveButton: labelled("Remove"),
    MoveUpButton: labelled("Move up"),
    MoveDownButton: labelled("Move down"),
    CopyButton: labelled("Copy"),
  },
};

// Every change is sent as application/json from this page: the host refuses a change without
// this page's Origin or with another content type (what a page on another site could send).
async function call(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: method === "GET" ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { ok: res.ok, status: res.status, body: text ? JSON.parse(text) : null };
}

// The descriptor's messages replace Ajv's regex text.
const transformErrorsFor = (kind) => (errors) =>
  errors.map((e) => {
    const m = kind.error_messages[e.property]?.[e.name];
    return m ? { ...e, message: m, stack: m } : e;
  });

function Banner({ refusal }) {
  if (!refusal || refusal.field) return null;
  return <p className="banner-error" role="alert" id="form-error">{refusal.message}</p>;
}

// One RJSF form: add or edit. A refusal from the server is shown at its field (extraErrors).
function CredentialForm({ kind, title, initial, submitLabel, onSubmit, onCancel }) {
  const [formData, setFormData] = useState(initial);
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async ({ formData }) => {
    setBusy(true);
    setRefusal(null);
    const res = await onSubmit(formData);
    setBusy(false);
    if (!res.ok) setRefusal(res.body);
  };
  return (
    <div className="panel" id="credential-form">
      <h2>{title}</h2>
      <Banner refusal={refusal} />
      <Form
        schema={kind.schema}
        uiSchema={{ ...kind.ui_schema, "ui:submitButtonOptions": { submitText: busy ? "Validating..." : submitLabel } }}
        formData={formData}
        onChange={(e) => setFormData(e.formData)}
        validator={validators.credential}
        templates={templates}
        noHtml5Validate
        transformErrors={transformErrorsFor(kind)}
        extraErrors={refusal?.extra_errors && refusal.field ? refusal.extra_errors : undefined}
        showErrorList={false}
        onSubmit={submit}
        disabled={busy}
      />
      <button type="button" onClick={onCancel}>Cancel</button>
    </div>
  );
}

function RotateForm({ kind, tile, onDone, onCancel }) {
  const schema = rotateSchema(kind.schema, kind.secrets);
  const uiSchema = Object.fromEntries(kind.secrets.map((p) => [p, kind.ui_schema[p]]));
  const [refusal, setRefusal] = useState(null);
  const [formData, setFormData] = useState({});
  return (
    <div className="panel" id="rotate-form">
      <h2>Rotate the key of {tile.name}</h2>
      <p className="muted">Enter the new key; it is validated before it replaces the saved one.</p>
      <Banner refusal={refusal} />
      <Form
        schema={schema}
        uiSchema={{ ...uiSchema, "ui:submitButtonOptions": { submitText: "Rotate key" } }}
        formData={formData}
        onChange={(e) => setFormData(e.formData)}
        validator={validators.rotate}
        extraErrors={refusal?.field ? refusal.extra_errors : undefined}
        showErrorList={false}
        onSubmit={async ({ formData }) => {
          setRefusal(null);
          const res = await call("POST", `/api/credentials/${tile.id}/rotate`, formData);
          if (res.ok) onDone(); else setRefusal(res.body);
        }}
      />
      <button type="button" onClick={onCancel}>Cancel</button>
    </div>
  );
}

// The credential's webhook URL (token included: it is the secret Flowlu sends back), copyable
// and rotatable, with the steps; and the changes received for the previewed stream, asked
// every second (the spool only: no request to Flowlu).
function Webhook({ tile, stream }) {
  const [hook, setHook] = useState(null);
  const [changes, setChanges] = useState([]);
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    call("GET", `/api/credentials/${tile.id}/webhook`).then((res) => res.ok && setHook(res.body));
  }, [tile.id]);
  useEffect(() => {
    if (!stream) return undefined;
    const ask = () => call("GET", `/api/credentials/${tile.id}/webhook/changes?stream=${encodeURIComponent(stream)}`)
      .then((res) => res.ok && setChanges(res.body.changes));
    ask();
    const timer = setInterval(ask, 1000);
    return () => clearInterval(timer);
  }, [tile.id, stream]);
  if (!hook) return null;
  const copy = async () => { await navigator.clipboard.writeText(hook.url); setCopied(true); };
  const rotate = async () => {
    const res = await call("POST", `/api/credentials/${tile.id}/webhook/rotate`);
    if (res.ok) { setHook(res.body); setCopied(false); }
  };
  return (
    <div id="webhook">
      <h3>Changes as they happen: Flowlu webhooks</h3>
      <input id="webhook-url" readOnly value={hook.url} size={hook.url.length} />
      <button type="button" id="webhook-copy" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
      <button type="button" id="webhook-rotate" onClick={rotate}>New URL</button>
      {hook.previous_valid_until && <p className="muted">The previous URL works until {hook.previous_valid_until}.</p>}
      <ol>{hook.steps.map((step) => <li key={step}>{step}</li>)}</ol>
      {stream && (
        <div id="webhook-changes">
          <h4>{stream}: changes received by webhook ({changes.length})</h4>
          <ul>
            {changes.map((c, i) => <li key={i}>{c.action} {String(c.id)} {c.cursor ?? ""}</li>)}
          </ul>
        </div>
      )}
    </div>
  );
}

function UseForSource({ tile, onClose }) {
  const [streams, setStreams] = useState(null);
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    call("POST", `/api/credentials/${tile.id}/discover`).then((res) =>
      res.ok ? setStreams(res.body.streams) : setError(res.body.message));
  }, [tile.id]);
  const show = async (name) => {
    setPreview({ stream: name, records: null });
    const res = await call("POST", `/api/credentials/${tile.id}/preview`, { stream: name, limit: 5 });
    if (res.ok) setPreview(res.body); else setError(res.body.message);
  };
  const columns = preview?.records?.length ? Object.keys(preview.records[0]).slice(0, 6) : [];
  return (
    <div className="panel" id="source-panel">
      <h2>New source from {tile.name}</h2>
      {error && <p className="banner-error" role="alert">{error}</p>}
      {!streams && !error && <p>Discovering streams...</p>}
      {streams && <p id="stream-count">{streams.length} streams. Pick one to preview its first records:</p>}
      <div id="streams">
        {streams?.map((s) => (
          <button key={s.name} className="stream" data-stream={s.name} onClick={() => show(s.name)}>{s.name}</button>
        ))}
      </div>
      {preview?.records && (
        <div id="preview">
          <h3>{preview.stream}: first {preview.records.length} records</h3>
          <table>
            <thead><tr>{columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
            <tbody>
              {preview.records.map((r, i) => (
                <tr key={i}>{columns.map((c) => <td key={c}>{typeof r[c] === "object" ? JSON.stringify(r[c]) : String(r[c])}</td>)}</tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Webhook tile={tile} stream={preview?.stream} />
      <button type="button" onClick={onClose}>Close</button>
    </div>
  );
}

function Tile({ tile, onEdit, onRotate, onUse, onChanged }) {
  const [confirming, setConfirming] = useState(false);
  return (
    <div className="tile" data-id={tile.id} data-name={tile.name}>
      <h3 className="tile-name">{tile.name}</h3>
      {tile.description && <p className="tile-description">{tile.description}</p>}
      <p className="tile-account">Account: {tile.account}</p>
      <p className={`tile-status status-${tile.status}`}>
        {tile.status === "valid" ? "Connected" : tile.status === "warning" ? "Connected, with warnings" : "Not working"}
      </p>
      {tile.status_message && <p className="tile-message status-invalid">{tile.status_message}</p>}
      {tile.warnings.map((w) => <p key={w} className="tile-warning status-warning">{w}</p>)}
      <p className="tile-validated muted">Last validated: {tile.last_validated ?? "never"}</p>
      <button onClick={() => onEdit(tile)}>Edit</button>
      <button onClick={() => onRotate(tile)}>Rotate key</button>
      <button onClick={async () => { await call("POST", `/api/credentials/${tile.id}/validate`); onChanged(); }}>Validate now</button>
      <button onClick={() => onUse(tile)}>Use for a source</button>
      {confirming
        ? <button className="confirm-delete" onClick={async () => { await call("DELETE", `/api/credentials/${tile.id}`); onChanged(); }}>Confirm delete</button>
        : <button onClick={() => setConfirming(true)}>Delete</button>}
    </div>
  );
}

function App() {
  const [kind, setKind] = useState(null);
  const [tiles, setTiles] = useState(null);
  const [view, setView] = useState({ mode: "list" });
  const reload = async () => setTiles((await call("GET", "/api/credentials")).body.credentials);
  useEffect(() => {
    call("GET", "/api/kinds/flowlu/form").then((res) => setKind(res.body));
    reload();
  }, []);
  if (!kind || !tiles) return <p>Loading...</p>;
  const stale = staleForms(kind);
  if (stale.length > 0) {
    return (
      <p className="banner-error" role="alert" id="stale-validators">
        This page was built for another credential form than the server's ({stale.join(", ")}):
        rebuild it with npm --prefix reference-host/web run build, then reload.
      </p>
    );
  }
  const back = async () => { await reload(); setView({ mode: "list" }); };
  const edit = async (tile) => {
    const res = await call("GET", `/api/credentials/${tile.id}`);
    setView({ mode: "edit", tile, formData: res.body.form_data });
  };
  return (
    <>
      {view.mode === "list" && (
        <>
          <button id="add-credential" onClick={() => setView({ mode: "add" })}>Add credential</button>
          <div className="tiles" id="tiles">
            {tiles.length === 0 && <p className="muted" id="no-credentials">No credentials yet.</p>}
            {tiles.map((t) => (
              <Tile key={t.id} tile={t} onEdit={edit} onChanged={reload}
                onRotate={(tile) => setView({ mode: "rotate", tile })}
                onUse={(tile) => setView({ mode: "use", tile })} />
            ))}
          </div>
        </>
      )}
      {view.mode === "add" && (
        <CredentialForm kind={kind} title="Add a Flowlu credential" initial={{}} submitLabel="Save"
          onSubmit={async (data) => { const r = await call("POST", "/api/credentials", data); if (r.ok) await back(); return r; }}
          onCancel={back} />
      )}
      {view.mode === "edit" && (
        <CredentialForm kind={kind} title={`Edit ${view.tile.name}`} initial={view.formData} submitLabel="Save changes"
          onSubmit={async (data) => { const r = await call("PUT", `/api/credentials/${view.tile.id}`, data); if (r.ok) await back(); return r; }}
          onCancel={back} />
      )}
      {view.mode === "rotate" && <RotateForm kind={kind} tile={view.tile} onDone={back} onCancel={back} />}
      {view.mode === "use" && <UseForSource tile={view.tile} onClose={back} />}
    </>
  );
}

createRoot(document.getElementById("root")).render(<App />);
