//! The HTTP API and the page.
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /` | the page (its script: `GET /app.js`, bundled from `web/`) |
//! | `GET /api/kinds/flowlu/form` | `{schema, ui_schema, error_messages, mask}` |
//! | `GET /api/credentials` | `{credentials: [tile]}` |
//! | `POST /api/credentials` (the form's data) | 201 `{credential: tile}`, or 422 [`Refusal`] (nothing saved) |
//! | `GET /api/credentials/{id}` | `{credential: tile, form_data}` (secrets as the mask) |
//! | `PUT /api/credentials/{id}` (the edited form) | `{credential: tile}` or 422 |
//! | `POST /api/credentials/{id}/rotate` (`{api_key}`) | `{credential: tile}` or 422 |
//! | `POST /api/credentials/{id}/validate` | `{credential: tile}` (status updated) |
//! | `DELETE /api/credentials/{id}` | 204 (its secrets deleted with it) |
//! | `POST /api/credentials/{id}/discover` | `{streams: [{name, sync_modes}]}` |
//! | `POST /api/credentials/{id}/preview` (`{stream, limit}`) | `{stream, records, webhook_changes}` |
//! | `GET /api/credentials/{id}/webhook` | `{url, steps, previous_valid_until}` (the URL holds its token: shown to be copied into Flowlu) |
//! | `POST /api/credentials/{id}/webhook/rotate` | the same, with a new token (the previous one works for a day) |
//! | `GET /api/credentials/{id}/webhook/changes?stream=S` | `{stream, changes}`: the newest 20 received, no request to Flowlu |
//! | `POST /hooks/{id}/flowlu/webhook/{token}` (Flowlu's, outside the guard and the log) | the receiver's answer, no body |
//! | `POST /hooks/stand-in/{token}` (the embedded stand-in's webhook) | the same, for every credential of its account |
//!
//! A refusal is `{message, field, reason, extra_errors}`: `field` the dotted path the message
//! belongs at (`null`: the whole credential), `extra_errors` the same as react-jsonschema-form's
//! `extraErrors`. No answer and no log line ever holds a secret: requests are logged by method,
//! path and status only (the connector's own requests carry the key in their query).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use connector_core::host::{rjsf_extra_errors, HostError, HostSchema, Split, Target, MASK};
use connector_core::{
    ConfiguredCatalog, Credential, FailureReason, FormDescriptor, Source, SourceEvent, SourceState, SyncMode,
    Validation,
};
use connector_flowlu::{FlowluCredential, FlowluSource};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::portals::Portals;
use crate::store::{NewCredential, Status, Store, StoreError};

/// The one connector kind this host offers.
pub const KIND: &str = "flowlu";

/// Most records a preview returns.
pub const PREVIEW_MAX: usize = 20;

/// The host: the store, the kind's form and where accounts' requests go.
#[derive(Debug)]
pub struct Host {
    store: Store,
    form: FormDescriptor,
    schema: HostSchema,
    portals: Portals,
    assets: PathBuf,
    authorities: Vec<String>,
    webhooks: Option<crate::webhooks::Webhooks>,
}

impl Host {
    /// A host over `store`, sending requests as `portals` says, serving the page's script
    /// from `assets/app.js`.
    pub fn new(store: Store, portals: Portals, assets: PathBuf) -> Result<Self, connector_core::Error> {
        let form = FlowluCredential::form()?;
        let schema = HostSchema::from_schema(&form.schema).map_err(|e| connector_core::Error::Config {
            path: e.field().into(),
            message: e.to_string(),
        })?;
        Ok(Self {
            store,
            form,
            schema,
            portals,
            assets,
            authorities: Vec::new(),
            webhooks: None,
        })
    }

    /// The `Host` header values (`127.0.0.1:8080`) this host answers to, and so the origins
    /// (`http://` and one of them) a change may come from; see [`authorities`]. With none,
    /// every request is refused.
    pub fn answering_to(mut self, authorities: Vec<String>) -> Self {
        self.authorities = authorities.into_iter().map(|a| a.to_ascii_lowercase()).collect();
        self
    }

    /// The store (tests inspect it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Receives Flowlu's webhooks for each credential, spooled under `dir` (see
    /// [`crate::webhooks`]).
    pub fn with_webhooks(mut self, dir: &std::path::Path) -> Self {
        self.webhooks = Some(crate::webhooks::Webhooks::new(dir));
        self
    }

    /// Relays the embedded stand-in's webhook to every credential of `account` (see
    /// `POST /hooks/stand-in/{token}`); after [`Host::with_webhooks`].
    pub fn with_stand_in_relay(mut self, token: connector_core::Secret, account: &str) -> Self {
        self.webhooks = self.webhooks.map(|w| w.with_stand_in_relay(token, account));
        self
    }

    /// The webhooks, when received.
    pub fn webhooks(&self) -> Option<&crate::webhooks::Webhooks> {
        self.webhooks.as_ref()
    }

    /// `Ok` when credential `id` is stored.
    pub fn credential_exists(&self, id: i64) -> Result<(), Refusal> {
        self.store
            .get(id)?
            .map(|_| ())
            .ok_or_else(|| Refusal::not_found(id))
    }
}

/// A request refused: the status and what the page shows where.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    body: Value,
}

impl Refusal {
    fn at(status: StatusCode, target: &Target, message: &str, reason: &str) -> Self {
        let field = match target {
            Target::Field(f) => Value::String(f.clone()),
            Target::Credential => Value::Null,
        };
        Self {
            status,
            body: json!({
                "message": message,
                "field": field,
                "reason": reason,
                "extra_errors": rjsf_extra_errors([(target, message)]),
            }),
        }
    }

    fn whole(status: StatusCode, message: &str, reason: &str) -> Self {
        Self::at(status, &Target::Credential, message, reason)
    }

    fn not_found(id: i64) -> Self {
        Self::whole(
            StatusCode::NOT_FOUND,
            &format!("No credential {id}: it may have been deleted. Reload the page."),
            "not_found",
        )
    }

    fn host(e: &HostError) -> Self {
        let target = if e.field().is_empty() {
            Target::Credential
        } else {
            Target::Field(e.field().into())
        };
        Self::at(
            StatusCode::UNPROCESSABLE_ENTITY,
            &target,
            &e.message(),
            "invalid_config",
        )
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "credential store failed");
        Self::whole(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The credential store failed; see the server's log.",
            "store",
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type Answer = Result<Response, Refusal>;

/// The `Host` header values a server listening on `addr` answers to: the address itself, and
/// for a loopback address `localhost:PORT` too; plus each of `names` (a name the host is
/// reached by on a network, `crm-admin.internal` or `crm-admin.internal:8080`; without a
/// port, the listening port is added).
pub fn authorities(addr: std::net::SocketAddr, names: &[String]) -> Vec<String> {
    let port = addr.port();
    let mut out = vec![addr.to_string()];
    if addr.ip().is_loopback() {
        out.push(format!("localhost:{port}"));
    }
    for name in names {
        let name = name.trim().to_ascii_lowercase();
        let has_port = name
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && !h.ends_with(':') && p.parse::<u16>().is_ok());
        out.push(if has_port { name } else { format!("{name}:{port}") });
    }
    out
}

/// The content security policy of every answer: scripts and styles from this host only (no
/// inline script, no `eval`, no inline style), requests to this host only, never framed. The
/// form's validators are compiled into the page's script when it is built
/// (`reference-host/web/build.mjs`: Ajv's standalone code through RJSF's
/// `createPrecompiledValidator`), so nothing is compiled at run time and `'unsafe-eval'` is not
/// needed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The router: the page, its script and the API, behind [`guard`].
pub fn router(host: Arc<Host>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/app.js", get(script))
        .route("/app.css", get(stylesheet))
        .route("/api/kinds/flowlu/form", get(form))
        .route("/api/credentials", get(list).post(create))
        .route("/api/credentials/{id}", get(show).put(edit).delete(remove))
        .route("/api/credentials/{id}/rotate", post(rotate))
        .route("/api/credentials/{id}/validate", post(revalidate))
        .route("/api/credentials/{id}/discover", post(discover))
        .route("/api/credentials/{id}/preview", post(preview))
        .route("/api/credentials/{id}/webhook", get(webhook_show))
        .route("/api/credentials/{id}/webhook/rotate", post(webhook_rotate))
        .route("/api/credentials/{id}/webhook/changes", get(webhook_changes))
        .layer(axum::middleware::from_fn_with_state(host.clone(), guard))
        .layer(axum::middleware::from_fn(log_request))
        // Flowlu's requests: outside the guard (no Origin) and the request log (the path
        // holds the token).
        .route("/hooks/{id}/flowlu/webhook/{token}", post(webhook_receive))
        .route("/hooks/stand-in/{token}", post(webhook_relay))
        .with_state(host)
}

/// What every request passes before it is answered, and what every answer carries:
///
/// * the `Host` header must name an address this host answers to (421 otherwise): a page
///   reaching it by a rebound DNS name is refused;
/// * a change (any method but `GET` and `HEAD`) must carry `Origin` naming this host (403
///   otherwise) and a body declared `application/json` (415 otherwise): a page on another
///   origin can send neither without the browser asking first, and it is never answered yes,
///   so neither a cross-origin `fetch` nor a plain HTML form can create, edit, rotate or delete;
/// * every answer carries the security headers: [`CONTENT_SECURITY_POLICY`],
///   `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`
///   and `Cache-Control: no-store`.
pub async fn guard(State(host): State<Arc<Host>>, request: Request, next: Next) -> Response {
    let mut response = match refused(&host, &request) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// Why `request` is refused by [`guard`], if it is.
fn refused(host: &Host, request: &Request) -> Option<Refusal> {
    let headers = request.headers();
    let named = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let Some(authority) = named.filter(|h| host.authorities.contains(h)) else {
        return Some(Refusal::whole(
            StatusCode::MISDIRECTED_REQUEST,
            "Refused: this host answers only to the address it listens on (the Host header names another).",
            "wrong_host",
        ));
    };
    let method = request.method();
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        return None;
    }
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if origin != Some(format!("http://{authority}").as_str()) {
        return Some(Refusal::whole(
            StatusCode::FORBIDDEN,
            "Refused: changes are accepted only from this host's own page (the Origin header is missing or names another site).",
            "cross_origin",
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Some(Refusal::whole(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Refused: send changes as `Content-Type: application/json`.",
            "bad_content_type",
        ));
    }
    None
}

/// Logs method, path and status: never the query, the headers or a body.
async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, %path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    response
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Credentials - reference host</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/app.css"></head>
<body><h1>Credentials</h1><div id="root"><noscript>This page needs JavaScript.</noscript></div>
<script src="/app.js"></script></body></html>
"#;

/// The page's stylesheet (served as a file: the policy allows no inline style).
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:960px;margin:1em auto;padding:0 1em;color:#222}
.tiles{display:flex;flex-wrap:wrap;gap:1em}.tile{border:1px solid #ccc;border-radius:8px;padding:.8em;width:280px}
.tile h3{margin:.1em 0}.status-valid{color:#070}.status-warning{color:#a60}.status-invalid{color:#b00}
.muted{color:#666;font-size:.9em}button{margin:.2em .3em .2em 0}input,textarea,select{display:block;width:100%;box-sizing:border-box}
.error-detail,.text-danger,.banner-error{color:#b00}.banner-error,.banner-warning{border:1px solid;padding:.5em;border-radius:4px}
.banner-warning{color:#a60}.panel{border:1px solid #ddd;border-radius:8px;padding:1em;margin:1em 0}
pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:320px}.error-detail{list-style:none;padding-left:0}
";

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn script(State(host): State<Arc<Host>>) -> Response {
    let path = host.assets.join("app.js");
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], bytes).into_response(),
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "the page's script is missing: build it with `npm --prefix reference-host/web ci && npm --prefix reference-host/web run build`");
            let message = "document.getElementById('root').textContent = 'The page script is not built: run `npm --prefix reference-host/web ci && npm --prefix reference-host/web run build`, then reload.';";
            (
                [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                message,
            )
                .into_response()
        }
    }
}

async fn form(State(host): State<Arc<Host>>) -> Json<Value> {
    Json(json!({
        "kind": KIND,
        "schema": host.form.schema,
        "ui_schema": host.form.ui_schema,
        "error_messages": host.form.error_messages,
        "secrets": host.schema.secrets().iter().map(|s| s.path.clone()).collect::<Vec<_>>(),
        "mask": MASK,
    }))
}

async fn list(State(host): State<Arc<Host>>) -> Answer {
    Ok(Json(json!({ "credentials": host.store.list()? })).into_response())
}

fn body_json(body: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(body).map_err(|_| {
        Refusal::whole(
            StatusCode::BAD_REQUEST,
            "The request body is not a JSON document.",
            "bad_request",
        )
    })
}

/// The credential a split config makes, pointed at its portal; or where the config is wrong.
fn credential(host: &Host, split: &Split) -> Result<FlowluCredential, Refusal> {
    let config = host.schema.join(&split.public, &split.secrets);
    let credential = FlowluCredential::from_config(&config).map_err(|e| match e {
        connector_core::Error::Config { path, message } => {
            let (target, message) = host.schema.place_config_error(&config, &path, &message);
            Refusal::at(
                StatusCode::UNPROCESSABLE_ENTITY,
                &target,
                &message,
                "invalid_config",
            )
        }
        other => Refusal::whole(
            StatusCode::UNPROCESSABLE_ENTITY,
            &sentence(&other.to_string()),
            "invalid_config",
        ),
    })?;
    Ok(match host.portals.base_url(&credential.account_domain.host()) {
        Some(url) => credential.with_stand_in(url),
        None => credential,
    })
}

/// Runs the validation call; the status to store, or the refusal placed at its field.
async fn validate(host: &Host, credential: &FlowluCredential) -> Result<Status, (Refusal, Status)> {
    let outcome = credential.validate().await;
    let now = crate::now();
    match outcome {
        Validation::Valid { warnings, detail } => {
            tracing::info!(account = %credential.account_domain.host(), %detail, "credential valid");
            Ok(Status {
                status: if warnings.is_empty() { "valid" } else { "warning" }.into(),
                message: None,
                warnings,
                last_validated: now,
            })
        }
        Validation::Invalid { reason, failure } => {
            tracing::info!(account = %credential.account_domain.host(), reason = reason_name(reason), internal = %failure.internal, "credential invalid");
            let target = host.schema.failure_target(reason, None);
            let refusal = Refusal::at(
                StatusCode::UNPROCESSABLE_ENTITY,
                &target,
                &failure.message,
                reason_name(reason),
            );
            Err((
                refusal,
                Status {
                    status: "invalid".into(),
                    message: Some(failure.message),
                    warnings: Vec::new(),
                    last_validated: now,
                },
            ))
        }
    }
}

fn new_credential<'a>(
    split: &'a Split,
    credential: &'a FlowluCredential,
    account: &'a str,
    status: &'a Status,
) -> NewCredential<'a> {
    NewCredential {
        kind: KIND,
        name: &credential.meta.name,
        description: credential
            .meta
            .description
            .as_deref()
            .filter(|d| !d.trim().is_empty()),
        account,
        public: &split.public,
        secrets: &split.secrets,
        status,
    }
}

fn tile_answer(host: &Host, id: i64, code: StatusCode) -> Answer {
    let (tile, _, _) = host.store.get(id)?.ok_or_else(|| Refusal::not_found(id))?;
    Ok((code, Json(json!({ "credential": tile }))).into_response())
}

async fn create(State(host): State<Arc<Host>>, body: Bytes) -> Answer {
    let submitted = body_json(&body)?;
    let split = host.schema.split(&submitted).map_err(|e| Refusal::host(&e))?;
    save(&host, None, &split).await
}

/// Validates `split` and saves it as a new credential or over `id`; nothing is saved when
/// the validation fails.
async fn save(host: &Host, id: Option<i64>, split: &Split) -> Answer {
    let credential = credential(host, split)?;
    let status = validate(host, &credential)
        .await
        .map_err(|(refusal, _)| refusal)?;
    let account = credential.account_domain.host();
    let new = new_credential(split, &credential, &account, &status);
    match id {
        None => {
            let id = host.store.insert(&new)?;
            tracing::info!(id, kind = KIND, %account, "credential created");
            tile_answer(host, id, StatusCode::CREATED)
        }
        Some(id) => {
            if !host.store.update(id, &new)? {
                return Err(Refusal::not_found(id));
            }
            tracing::info!(id, kind = KIND, %account, "credential updated");
            tile_answer(host, id, StatusCode::OK)
        }
    }
}

async fn show(State(host): State<Arc<Host>>, Path(id): Path<i64>) -> Answer {
    let (tile, public, secrets) = host.store.get(id)?.ok_or_else(|| Refusal::not_found(id))?;
    let form_data = host.schema.masked(&public, &secrets);
    Ok(Json(json!({ "credential": tile, "form_data": form_data })).into_response())
}

async fn edit(State(host): State<Arc<Host>>, Path(id): Path<i64>, body: Bytes) -> Answer {
    let edited = body_json(&body)?;
    let (_, public, secrets) = host.store.get(id)?.ok_or_else(|| Refusal::not_found(id))?;
    let split = host
        .schema
        .merge(&public, &secrets, &edited)
        .map_err(|e| Refusal::host(&e))?;
    save(&host, Some(id), &split).await
}

/// A new value for each secret named in the body (by its path: the Flowlu form's secrets are
/// top-level fields); everything else as stored.
async fn rotate(State(host): State<Arc<Host>>, Path(id): Path<i64>, body: Bytes) -> Answer {
    let given = body_json(&body)?;
    let Some(given) = given.as_object() else {
        return Err(Refusal::host(&HostError::NotAnObject));
    };
    let (_, public, secrets) = host.store.get(id)?.ok_or_else(|| Refusal::not_found(id))?;
    let mut edited = host.schema.masked(&public, &secrets);
    for field in host.schema.secrets() {
        match given.get(&field.path) {
            Some(Value::String(s)) if !s.trim().is_empty() && s != MASK => {
                edited[&field.path] = Value::String(s.clone())
            }
            Some(_) => {
                return Err(Refusal::at(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &Target::Field(field.path.clone()),
                    &format!("Enter the new {}.", field.title),
                    "invalid_config",
                ))
            }
            None => {}
        }
    }
    let split = host
        .schema
        .merge(&public, &secrets, &edited)
        .map_err(|e| Refusal::host(&e))?;
    save(&host, Some(id), &split).await
}

/// The stored credential, ready to use.
fn stored(host: &Host, id: i64) -> Result<FlowluCredential, Refusal> {
    let (_, public, secrets) = host.store.get(id)?.ok_or_else(|| Refusal::not_found(id))?;
    credential(host, &Split { public, secrets })
}

async fn revalidate(State(host): State<Arc<Host>>, Path(id): Path<i64>) -> Answer {
    let credential = stored(&host, id)?;
    let status = match validate(&host, &credential).await {
        Ok(s) => s,
        Err((_, s)) => s,
    };
    host.store.set_status(id, &status)?;
    tile_answer(&host, id, StatusCode::OK)
}

async fn remove(State(host): State<Arc<Host>>, Path(id): Path<i64>) -> Answer {
    if !host.store.delete(id)? {
        return Err(Refusal::not_found(id));
    }
    if let Some(hooks) = host.webhooks() {
        hooks.remove(id);
    }
    tracing::info!(id, "credential deleted with its secrets");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn source(host: &Host, id: i64) -> Result<FlowluSource, Refusal> {
    let credential = stored(host, id)?;
    FlowluSource::from_credential(&credential).map_err(|e| {
        Refusal::whole(
            StatusCode::UNPROCESSABLE_ENTITY,
            &sentence(&e.to_string()),
            "invalid_config",
        )
    })
}

fn failed(failure: &connector_core::Failure) -> Refusal {
    Refusal::whole(
        StatusCode::BAD_GATEWAY,
        &failure.message,
        failure_reason(failure.class),
    )
}

/// The reason code a failure class answers with.
fn failure_reason(class: connector_core::FailureClass) -> &'static str {
    match class {
        connector_core::FailureClass::Config => "config_error",
        connector_core::FailureClass::Transient => "transient_error",
        connector_core::FailureClass::System => "system_error",
    }
}

async fn discover(State(host): State<Arc<Host>>, Path(id): Path<i64>) -> Answer {
    let source = source(&host, id)?;
    let catalog = source.discover().await.map_err(|f| failed(&f))?;
    let streams: Vec<Value> = catalog
        .streams
        .iter()
        .map(|s| {
            let modes: Vec<&str> = s
                .supported_sync_modes
                .iter()
                .map(|m| match m {
                    SyncMode::FullRefresh => "full_refresh",
                    SyncMode::Incremental => "incremental",
                })
                .collect();
            json!({"name": s.name, "sync_modes": modes})
        })
        .collect();
    Ok(Json(json!({ "streams": streams })).into_response())
}

async fn preview(State(host): State<Arc<Host>>, Path(id): Path<i64>, body: Bytes) -> Answer {
    let asked = body_json(&body)?;
    let Some(stream) = asked.get("stream").and_then(Value::as_str) else {
        return Err(Refusal::whole(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Name the stream to preview (`stream`).",
            "bad_request",
        ));
    };
    let limit = asked
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(5, |n| usize::try_from(n).unwrap_or(PREVIEW_MAX))
        .clamp(1, PREVIEW_MAX);
    let source = source(&host, id)?;
    let catalog = source.discover().await.map_err(|f| failed(&f))?;
    let mut configured = ConfiguredCatalog::from_catalog(&catalog);
    configured.streams.retain(|s| s.stream.name == stream);
    if configured.streams.is_empty() {
        return Err(Refusal::whole(
            StatusCode::NOT_FOUND,
            &format!("This credential offers no stream named `{stream}`: run discover for the list."),
            "not_found",
        ));
    }
    for s in &mut configured.streams {
        s.sync_mode = SyncMode::FullRefresh;
    }
    let state = SourceState::default();
    let mut records = Vec::new();
    let mut events = source.read_parsed(&configured, &state);
    while let Some(event) = events.next().await {
        match event {
            SourceEvent::Record(r) => {
                records.push(r.data);
                if records.len() >= limit {
                    break;
                }
            }
            SourceEvent::Error { failure, .. } => return Err(failed(&failure)),
            _ => {}
        }
    }
    // The changes Flowlu's webhooks brought for this stream, newest last.
    let changes = host
        .webhooks()
        .map(|hooks| crate::webhooks::recent(hooks, id, stream, limit))
        .unwrap_or_default();
    Ok(Json(json!({ "stream": stream, "records": records, "webhook_changes": changes })).into_response())
}

/// `BadCredentials` -> `bad_credentials`.
fn reason_name(reason: FailureReason) -> &'static str {
    match reason {
        FailureReason::InvalidConfig => "invalid_config",
        FailureReason::BadCredentials => "bad_credentials",
        FailureReason::UnknownAccount => "unknown_account",
        FailureReason::MissingPermission => "missing_permission",
        FailureReason::Network => "network",
        FailureReason::Timeout => "timeout",
        FailureReason::RateLimited => "rate_limited",
        FailureReason::ServerError => "server_error",
        _ => "unexpected",
    }
}

/// `expected x` -> `Expected x.`
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

fn no_webhooks() -> Refusal {
    Refusal::whole(
        StatusCode::NOT_FOUND,
        "This host does not receive webhooks (start it with a data directory).",
        "not_found",
    )
}

fn webhook_store_failed(e: &std::io::Error) -> Refusal {
    tracing::error!(error = %e, "webhook token store failed");
    Refusal::whole(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The webhook token could not be read or written; see the server's log.",
        "store",
    )
}

fn authority(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
}

/// `GET /api/credentials/{id}/webhook`.
async fn webhook_show(
    State(host): State<Arc<Host>>,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
) -> Answer {
    host.credential_exists(id)?;
    let hooks = host.webhooks().ok_or_else(no_webhooks)?;
    let tokens = hooks.tokens(id).map_err(|e| webhook_store_failed(&e))?;
    Ok(Json(crate::webhooks::answer(authority(&headers), id, &tokens)).into_response())
}

/// `POST /api/credentials/{id}/webhook/rotate`.
async fn webhook_rotate(
    State(host): State<Arc<Host>>,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
) -> Answer {
    host.credential_exists(id)?;
    let hooks = host.webhooks().ok_or_else(no_webhooks)?;
    let tokens = hooks.rotate(id).map_err(|e| webhook_store_failed(&e))?;
    Ok(Json(crate::webhooks::answer(authority(&headers), id, &tokens)).into_response())
}

/// `GET /api/credentials/{id}/webhook/changes?stream=S`.
async fn webhook_changes(
    State(host): State<Arc<Host>>,
    Path(id): Path<i64>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Answer {
    host.credential_exists(id)?;
    let hooks = host.webhooks().ok_or_else(no_webhooks)?;
    let stream = query.get("stream").map(String::as_str).unwrap_or("");
    let Some(model) = connector_flowlu::testing::model(stream) else {
        return Err(Refusal::whole(
            StatusCode::NOT_FOUND,
            &format!("No stream named `{stream}`."),
            "not_found",
        ));
    };
    let changes = crate::webhooks::recent(hooks, id, model.stream, 20);
    Ok(Json(json!({"stream": model.stream, "changes": changes})).into_response())
}

/// `POST /hooks/{id}/flowlu/webhook/{token}`: Flowlu's request, answered by the credential's
/// receiver (404 without a body for an unknown credential, as for a wrong token).
async fn webhook_receive(
    State(host): State<Arc<Host>>,
    Path((id, token)): Path<(String, String)>,
    body: axum::body::Body,
) -> Response {
    let known = id
        .parse::<i64>()
        .ok()
        .filter(|id| host.credential_exists(*id).is_ok());
    let (Some(id), Some(hooks)) = (known, host.webhooks()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match hooks.receiver(id) {
        Ok(receiver) => receiver.receive(&token, body).await,
        Err(e) => {
            tracing::error!(error = %e, "webhook receiver could not start");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `POST /hooks/stand-in/{token}`: the embedded stand-in's event, spooled for every credential
/// of its account (404 without a body for a wrong token; the first refusal otherwise).
async fn webhook_relay(
    State(host): State<Arc<Host>>,
    Path(token): Path<String>,
    body: axum::body::Body,
) -> Response {
    let Some(hooks) = host.webhooks() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(account) = hooks.relay_for(&token) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let limit = connector_flowlu::WebhookReceiverConfig::default().max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let Ok(tiles) = host.store.list() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    for tile in tiles.iter().filter(|t| t.account == account) {
        let status = match hooks.receiver(tile.id) {
            Ok(receiver) => receiver.accept(&bytes).await,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status != StatusCode::OK {
            return status.into_response();
        }
    }
    StatusCode::OK.into_response()
}
