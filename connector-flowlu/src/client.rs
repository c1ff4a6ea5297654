//! The Flowlu REST client: one place that builds URLs, sends requests and decodes answers.
//!
//! * `api_key` rides in the query string of every request (Flowlu has no header form), so the
//!   URL is never shown: transport errors are stripped of it, spans record only the module,
//!   model and method, and text taken from response bodies is redacted.
//! * Redirects are never followed (one would carry the key to another host).
//! * Timeouts are always set.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use connector_core::Secret;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::cursor::Order;
use crate::domain::AccountDomain;
use crate::error::{
    api_failure, is_rate_limit_text, AccountKind, ApiError, Bound, DnsFailure, Error, MalformedKind,
    UnavailableKind, HTML_PAGE, TRUNCATED,
};
use crate::raw_page::RawListPage;

/// The environment variable the binary reads to point the client at another base URL (a
/// local stand-in). Only loopback `http` URLs and `https` Flowlu hosts are accepted.
pub const BASE_URL_ENV: &str = "FLOWLU_BASE_URL";

/// Default total time for one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest answer body, in bytes (see [`crate::settings::DEFAULT_PAGE_MEGABYTES`]).
pub const DEFAULT_MAX_BODY: usize = crate::settings::DEFAULT_PAGE_MEGABYTES as usize * crate::settings::MIB;

/// The user agent: the connector and its version.
pub const USER_AGENT: &str = concat!(
    "flowlu-connector/",
    env!("CARGO_PKG_VERSION"),
    " (connector-flowlu)"
);

/// Builds a [`Client`]; [`ClientBuilder::build`] is the one fallible step.
#[derive(Debug)]
pub struct ClientBuilder {
    domain: AccountDomain,
    api_key: Secret,
    base_url: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    resolver: Option<Resolver>,
    max_body: usize,
}

/// A DNS resolver for the client (the host's own, or a test double). Every lookup goes
/// through it, and its failures come out as [`DnsFailure`], so a name that does not resolve
/// is told from a refused connection by the error's type ([`crate::error::TransportKind::Dns`]).
#[derive(Clone)]
pub struct Resolver(pub std::sync::Arc<dyn reqwest::dns::Resolve>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.0.resolve(name);
        Box::pin(async move { lookup.await.map_err(|e| DnsFailure(e).into()) })
    }
}

/// The system's resolver (`getaddrinfo` on tokio's blocking pool, as hyper's default does).
struct SystemResolver;

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver(..)")
    }
}

impl ClientBuilder {
    /// Sends requests to `url` instead of the portal (a loopback test server, or an `https`
    /// Flowlu host). Checked by [`ClientBuilder::build`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Resolves host names with `resolver` instead of the system resolver.
    pub fn dns_resolver(mut self, resolver: std::sync::Arc<dyn reqwest::dns::Resolve>) -> Self {
        self.resolver = Some(Resolver(resolver));
        self
    }

    /// Total time allowed for one request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most bytes one answer may have (default 64 MiB): reading stops there and the call
    /// fails with [`Error::Oversized`].
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Time allowed to connect (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        if self.api_key.is_blank() {
            return Err(Error::config(
                "api_key",
                "the API key is empty; copy it from Flowlu: Portal Settings -> API Settings",
            ));
        }
        let base = match &self.base_url {
            Some(url) => check_base_url(url)?,
            None => Url::parse(&self.domain.base_url())
                .map_err(|e| Error::config("account_domain", e.to_string()))?,
        };
        let mut http = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(USER_AGENT)
            .pool_max_idle_per_host(32);
        let resolver = self
            .resolver
            .unwrap_or_else(|| Resolver(std::sync::Arc::new(SystemResolver)));
        http = http.dns_resolver(std::sync::Arc::new(resolver));
        let http = http.build().map_err(Error::transport)?;
        let host = contacted_host(&base);
        let base = base.as_str().trim_end_matches('/').to_string();
        Ok(Client {
            http,
            base,
            host,
            api_key: self.api_key,
            domain: self.domain,
            max_body: self.max_body.max(1),
            answered: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// The host (with its port, when the URL names one) a request to `url` contacts, as user
/// messages name it: `acme.flowlu.com`, `127.0.0.1:8080`.
pub fn contacted_host(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Accepts `http` URLs on a loopback host and `https` URLs on a Flowlu host; nothing else.
pub fn check_base_url(raw: &str) -> Result<Url, Error> {
    let bad = |why: &str| {
        Error::config(BASE_URL_ENV, format!(
            "{why}; use a loopback http URL such as http://127.0.0.1:8080 or an https Flowlu address such as https://acme.flowlu.com"
        ))
    };
    let url = Url::parse(raw.trim()).map_err(|_| bad("not a URL"))?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad("user info, query and fragment are not allowed"));
    }
    let host = url.host().ok_or_else(|| bad("the URL has no host"))?;
    let loopback = match &host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "http" if loopback => Ok(url),
        "https" if loopback => Ok(url),
        "https" => match &host {
            url::Host::Domain(d) => {
                let candidate = d.trim_end_matches('.');
                let ok = url.port().is_none()
                    && AccountDomain::parse(candidate)
                        .is_ok_and(|a| a.host() == candidate.to_ascii_lowercase());
                if ok {
                    Ok(url)
                } else {
                    Err(bad("the host is not a Flowlu portal"))
                }
            }
            _ => Err(bad("the host is not a Flowlu portal")),
        },
        _ => Err(bad("only loopback hosts may use http")),
    }
}

/// One page of a list call.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// `total_result`, else `total`, if sent (a cross-check only).
    pub total: Option<u64>,
    /// `page`, if sent.
    pub page: Option<u64>,
    /// `count`, if sent.
    pub count: Option<u64>,
    /// The records, exactly as sent.
    pub items: Vec<Value>,
}

impl ListPage {
    /// Reads the `response` of a list call. Items may be an array or an object keyed by id;
    /// numbers may come as strings.
    pub fn from_response(response: Value) -> Result<Self, Error> {
        let malformed = |detail: &str| Error::Malformed {
            status: 200,
            kind: MalformedKind::Unexpected,
            detail: detail.into(),
        };
        let mut obj = match response {
            Value::Object(obj) => obj,
            Value::Array(items) => {
                return Ok(Self {
                    total: None,
                    page: None,
                    count: None,
                    items,
                })
            }
            _ => return Err(malformed("a list answer without an object `response`")),
        };
        let number =
            |v: Option<&Value>| v.and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
        // `total_result` first: beside it, `total` has been seen holding nonsense (99999).
        let total = number(obj.get("total_result")).or_else(|| number(obj.get("total")));
        let page = number(obj.get("page"));
        let count = number(obj.get("count"));
        let items = match obj.remove("items") {
            Some(Value::Array(items)) => items,
            Some(Value::Object(map)) => map.into_iter().map(|(_, v)| v).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err(malformed("`items` is neither a list nor an object")),
        };
        Ok(Self {
            total,
            page,
            count,
            items,
        })
    }
}

/// A Flowlu REST client for one account.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// The host of `base` (with its port), as messages name it.
    host: String,
    api_key: Secret,
    domain: AccountDomain,
    max_body: usize,
    /// Whether an answer of this account (of this client or a clone) was understood: after
    /// that, an HTML page is a proxy's passing page, not a wrong host.
    answered: Arc<AtomicBool>,
}

impl Client {
    /// Starts building a client for `domain` with `api_key`.
    pub fn builder(domain: AccountDomain, api_key: Secret) -> ClientBuilder {
        ClientBuilder {
            domain,
            api_key,
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            resolver: None,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The account this client talks to.
    pub fn domain(&self) -> &AccountDomain {
        &self.domain
    }

    /// The base URL requests go to (without the key).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The host requests go to, with its port when the base URL names one (`acme.flowlu.com`,
    /// or `127.0.0.1:8080` under `FLOWLU_BASE_URL`): what user messages name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `GET .../{module}/{model}/list` with `params` (`page`, `limit`, `order_by[asc][]`,
    /// `filter[...]`, ...).
    pub async fn list(
        &self,
        module: &str,
        model: &str,
        params: &[(String, String)],
    ) -> Result<ListPage, Error> {
        ListPage::from_response(self.call(Call::new(module, model, "list").params(params)).await?)
    }

    /// `GET .../{module}/{model}/get/{id}`.
    pub async fn get(&self, module: &str, model: &str, id: u64) -> Result<Value, Error> {
        self.call(Call::new(module, model, "get").id(id)).await
    }

    /// `POST .../{module}/{model}/create` with a form-encoded body.
    pub async fn create(&self, module: &str, model: &str, form: &[(String, String)]) -> Result<Value, Error> {
        self.call(Call::new(module, model, "create").form(form)).await
    }

    /// `POST .../{module}/{model}/update/{id}` with a form-encoded body.
    pub async fn update(
        &self,
        module: &str,
        model: &str,
        id: u64,
        form: &[(String, String)],
    ) -> Result<Value, Error> {
        self.call(Call::new(module, model, "update").id(id).form(form))
            .await
    }

    /// `GET .../{module}/{model}/delete/{id}`.
    pub async fn delete(&self, module: &str, model: &str, id: u64) -> Result<Value, Error> {
        self.call(Call::new(module, model, "delete").id(id)).await
    }

    /// `GET .../{module}/{model}/list`, keeping each record as the exact JSON Flowlu sent,
    /// with its key in `order` (see [`RawListPage`]); errors are decoded exactly as
    /// [`Client::list`] decodes them.
    pub async fn list_raw(
        &self,
        module: &str,
        model: &str,
        params: &[(String, String)],
        order: &Order,
    ) -> Result<RawListPage, Error> {
        let call = Call::new(module, model, "list").params(params);
        let (status, headers, body) = self.send(&call).await?;
        let page = RawListPage::decode(status, &headers, body.as_ref(), self.api_key.expose(), order);
        self.outcome(page, status, &call)
    }

    /// Sends one request and returns the `response` member of the answer.
    pub async fn call(&self, call: Call<'_>) -> Result<Value, Error> {
        // A span by hand (no `#[instrument]`: tracing's proc-macro would be the only user of
        // syn 2 outside the tests, and compiling it twice costs the first build minutes).
        let span = tracing::debug_span!(
            "call",
            module = call.module,
            model = call.model,
            method = call.method
        );
        tracing::Instrument::instrument(
            async {
                let (status, headers, body) = self.send(&call).await?;
                let response = decode(status, &headers, body.as_ref(), self.api_key.expose());
                self.outcome(response, status, &call)
            },
            span,
        )
        .await
    }

    /// Notes a good answer; logs a failed one, naming its module and model, and tells a
    /// proxy's HTML page after good answers from a wrong host's.
    fn outcome<T>(&self, result: Result<T, Error>, status: StatusCode, call: &Call<'_>) -> Result<T, Error> {
        match result {
            Ok(value) => {
                self.answered.store(true, Ordering::Relaxed);
                Ok(value)
            }
            Err(err) if err.is_html_page() && self.answered.load(Ordering::Relaxed) => Err(failed(
                Error::Unavailable {
                    status: status.as_u16(),
                    kind: UnavailableKind::HtmlPage,
                    detail: format!(
                        "{HTML_PAGE}, after good answers from this account (a proxy's or a maintenance page)"
                    ),
                },
                status,
                call,
            )),
            Err(err) => Err(failed(err, status, call)),
        }
    }

    /// Sends one request and reads the whole answer, up to the body cap.
    async fn send(&self, call: &Call<'_>) -> Result<(StatusCode, HeaderMap, impl AsRef<[u8]>), Error> {
        let verb = if call.form.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let mut request = self
            .http
            .request(verb, format!("{}{}", self.base, call.path()))
            .query(&[("api_key", self.api_key.expose())])
            .query(call.params);
        if let Some(form) = call.form {
            let body =
                serde_urlencoded::to_string(form).map_err(|e| Error::config("record", e.to_string()))?;
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body);
        }
        let mut response = request.send().await.map_err(Error::transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let oversized = |bound| Error::oversized(call.what(), call.page(), bound);
        let limit = self.max_body;
        let announced = response.content_length().unwrap_or(0);
        if announced > limit as u64 {
            return Err(oversized(Bound::Bytes(limit)));
        }
        let (mut chunks, mut read) = (Vec::new(), 0);
        while let Some(chunk) = response.chunk().await.map_err(Error::transport)? {
            read += chunk.len();
            if read > limit {
                return Err(oversized(Bound::Bytes(limit)));
            }
            chunks.push(chunk);
        }
        // One chunk (the common case) is kept as it came; several are joined once.
        let body = if chunks.len() == 1 {
            Body::One(chunks.swap_remove(0))
        } else {
            Body::Joined(chunks.concat())
        };
        Ok((status, headers, body))
    }
}

/// An answer's body: one chunk as it came, or several joined.
enum Body<B> {
    One(B),
    Joined(Vec<u8>),
}

impl<B: AsRef<[u8]>> AsRef<[u8]> for Body<B> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::One(chunk) => chunk.as_ref(),
            Self::Joined(body) => body,
        }
    }
}

/// One REST call: `.../api/v1/module/{module}/{model}/{method}[/{id}]`, sent as a GET with
/// `params` in the query string, or as a POST when it carries a form body (create, update).
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    module: &'a str,
    model: &'a str,
    method: &'a str,
    id: Option<u64>,
    params: &'a [(String, String)],
    form: Option<&'a [(String, String)]>,
}

impl<'a> Call<'a> {
    /// `method` (`list`, `get`, ...) of `module/model`.
    pub fn new(module: &'a str, model: &'a str, method: &'a str) -> Self {
        Self {
            module,
            model,
            method,
            id: None,
            params: &[],
            form: None,
        }
    }

    /// The record id, appended to the path.
    pub fn id(mut self, id: u64) -> Self {
        self.id = Some(id);
        self
    }

    /// Query parameters besides `api_key`.
    pub fn params(mut self, params: &'a [(String, String)]) -> Self {
        self.params = params;
        self
    }

    /// A form body (makes the call a POST).
    pub fn form(mut self, form: &'a [(String, String)]) -> Self {
        self.form = Some(form);
        self
    }

    /// `module/model/method`, for messages.
    fn what(&self) -> String {
        format!("{}/{}/{}", self.module, self.model, self.method)
    }

    /// The `page` parameter, if any.
    fn page(&self) -> Option<u64> {
        self.params
            .iter()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
    }

    fn path(&self) -> String {
        let Self {
            module,
            model,
            method,
            ..
        } = self;
        match self.id {
            Some(id) => format!("/api/v1/module/{module}/{model}/{method}/{id}"),
            None => format!("/api/v1/module/{module}/{model}/{method}"),
        }
    }
}

/// Logs a failed request and names its module and model in a permission error (and the
/// call and page in an oversized answer).
fn failed(err: Error, status: StatusCode, call: &Call<'_>) -> Error {
    let (module, model, method) = (call.module, call.model, call.method);
    tracing::debug!(module, model, method, status = status.as_u16(), error = %err, "flowlu request failed");
    match err {
        Error::Permission(denied) => Error::permission(module, model, denied.api),
        Error::Oversized(over) => Error::oversized(call.what(), call.page(), over.bound),
        other => other,
    }
}

/// Decodes an answer: the `response` member on success, else the error it means.
///
/// `secret` is redacted from every text taken from the body.
pub fn decode(status: StatusCode, headers: &HeaderMap, body: &[u8], secret: &str) -> Result<Value, Error> {
    let code = status.as_u16();
    if status.is_redirection() {
        let target = headers
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| Url::parse(l).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "another page".into());
        return Err(Error::UnknownAccount {
            kind: AccountKind::Redirect,
            detail: format!("HTTP {code} redirect to {}", redact(&target, secret)),
        });
    }
    let retry_after = || {
        headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    };
    if code == 429 {
        return Err(Error::RateLimited {
            retry_after: retry_after(),
        });
    }
    let parsed: Result<Value, serde_json::Error> = serde_json::from_slice(body);
    if let Ok(value) = &parsed {
        // `{"error":"Request rate per second exceeded"}`, at any status (200 included).
        if value
            .get("error")
            .and_then(Value::as_str)
            .is_some_and(is_rate_limit_text)
        {
            return Err(Error::RateLimited {
                retry_after: retry_after(),
            });
        }
        if let Some(api) = ApiError::from_body(value) {
            let api = ApiError {
                message: redact(&api.message, secret),
                fields: api
                    .fields
                    .into_iter()
                    .map(|(k, v)| (redact(&k, secret), redact(&v, secret)))
                    .collect(),
                ..api
            };
            return Err(api_failure(code, api));
        }
    }
    if code == 401 || code == 403 {
        return Err(Error::Auth {
            status: code,
            api: None,
        });
    }
    let looks_html = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    if status.is_server_error() {
        // The status says "try again" whatever the body; a text or JSON body is kept for
        // the log, a page of HTML is not worth it.
        let blank = body.iter().all(u8::is_ascii_whitespace);
        return Err(if blank || looks_html {
            Error::Server { status: code }
        } else {
            Error::Unavailable {
                status: code,
                kind: UnavailableKind::Message,
                detail: excerpt(body, secret),
            }
        });
    }
    if code == 404 {
        return Err(Error::UnknownAccount {
            kind: AccountKind::NotFound,
            detail: "HTTP 404 (no such portal or path)".into(),
        });
    }
    if looks_html {
        return Err(Error::UnknownAccount {
            kind: AccountKind::HtmlPage,
            detail: format!("HTTP {code} with {HTML_PAGE}"),
        });
    }
    match parsed {
        Ok(Value::Object(mut obj)) if status.is_success() => match obj.remove("response") {
            Some(response) => Ok(response),
            None => Err(Error::Malformed {
                status: code,
                kind: MalformedKind::Unexpected,
                detail: format!("no `response` in {}", excerpt(body, secret)),
            }),
        },
        Ok(_) => Err(Error::Malformed {
            status: code,
            kind: MalformedKind::Unexpected,
            detail: format!("unexpected answer {}", excerpt(body, secret)),
        }),
        Err(e) if e.is_eof() => Err(Error::Malformed {
            status: code,
            kind: MalformedKind::Truncated,
            detail: format!("{TRUNCATED} ({} bytes)", body.len()),
        }),
        Err(e) => Err(Error::Malformed {
            status: code,
            kind: MalformedKind::NotJson,
            detail: format!("not JSON ({e}): {}", excerpt(body, secret)),
        }),
    }
}

pub use connector_core::secret::redact;

/// The start of a body for an error message, redacted (before it is cut, so no part of the
/// key survives at the cut).
fn excerpt(body: &[u8], secret: &str) -> String {
    let text = redact(&String::from_utf8_lossy(body), secret);
    let cut: String = text.chars().take(200).collect();
    let suffix = if text.chars().count() > 200 { "..." } else { "" };
    format!("`{cut}{suffix}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_policy() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1/",
            "http://[::1]:9",
            "https://acme.flowlu.com",
            "https://acme.flowlu.ru/",
        ] {
            assert!(check_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://acme.flowlu.com",
            "https://evil.io",
            "https://acme.flowlu.com.evil.io",
            "http://10.0.0.1",
            "https://acme.flowlu.com:8443",
            "http://user:pw@127.0.0.1",
            "ftp://127.0.0.1",
            "not a url",
            "https://127.0.0.1.nip.io",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_page_accepts_every_observed_form() {
        let p = ListPage::from_response(
            serde_json::json!({"total_result": "3", "page": 1, "count": "1", "items": [{"id": 1}]}),
        )
        .unwrap();
        assert_eq!(
            (p.total, p.page, p.count, p.items.len()),
            (Some(3), Some(1), Some(1), 1)
        );
        let p = ListPage::from_response(serde_json::json!({"total": 0, "items": {"7": {"id": 7}}})).unwrap();
        assert_eq!(p.items, vec![serde_json::json!({"id": 7})]);
        let p = ListPage::from_response(serde_json::json!({"total": 0})).unwrap();
        assert!(p.items.is_empty());
    }

    /// Every failure form: what it decodes to, its class, whether it is retried, whether a
    /// create that got it may have been applied.
    #[test]
    fn decode_classifies_every_failure_form() {
        use connector_core::FailureClass::{Config, System, Transient};
        #[rustfmt::skip]
        let cases: &[(u16, &str, &str, connector_core::FailureClass, bool, bool)] = &[
            // A 5xx says "try again" whatever the body.
            (500, r#"{"error":"boom"}"#, "temporarily unavailable (HTTP 500): boom", Transient, true, true),
            (500, r#"{"error":{"error_msg":"boom"}}"#, "temporarily unavailable (HTTP 500): boom", Transient, true, true),
            (500, r#"{"error":{"error_code":10,"error_msg":"Unknown error"}}"#, "temporarily unavailable (HTTP 500): error 10: Unknown error", Transient, true, true),
            (503, r#"{"error":{"error_code":13,"error_msg":"retry later"}}"#, "temporarily unavailable (HTTP 503): error 13: retry later", Transient, true, true),
            (500, r#"{"message":"boom"}"#, "temporarily unavailable (HTTP 500): `{\"message\":\"boom\"}`", Transient, true, true),
            (500, r#""boom""#, "temporarily unavailable (HTTP 500): `\"boom\"`", Transient, true, true),
            (503, "Service Unavailable", "temporarily unavailable (HTTP 503): `Service Unavailable`", Transient, true, true),
            (502, "<html>Bad gateway</html>", "server error (HTTP 502)", Transient, true, true),
            (504, "", "server error (HTTP 504)", Transient, true, true),
            (500, r#"{"error":"invalid api key"}"#, "temporarily unavailable (HTTP 500): invalid api key", Transient, true, true),
            // ... unless its code settles it.
            (500, r#"{"error":{"error_code":21,"error_msg":"Validation error"}}"#, "error 21: Validation error", System, false, false),
            (500, r#"{"error":{"error_code":11,"error_msg":"Authorization failed"}}"#, "authorization failed (HTTP 500, error 11: Authorization failed)", Config, false, false),
            (429, r#"{"error":"boom"}"#, "rate limited by Flowlu", Transient, true, false),
            // A string `error`, by its words and its status.
            (200, r#"{"error":"validation","details":{"name":"required"}}"#, "error 21: validation; name: required", System, false, false),
            (200, r#"{"error":"invalid_grant","error_descrption":"x"}"#, "authorization failed (HTTP 200, invalid_grant)", Config, false, false),
            (401, r#"{"error":"Invalid API key"}"#, "authorization failed (HTTP 401, Invalid API key)", Config, false, false),
            (403, r#"{"error":"unauthorized","description":"log in first"}"#, "authorization failed (HTTP 403, unauthorized: log in first)", Config, false, false),
            (401, r#"{"error":"boom"}"#, "authorization failed (HTTP 401, boom)", Config, false, false),
            (403, r#"{"error":"Forbidden"}"#, "authorization failed (HTTP 403, Forbidden)", Config, false, false),
            (200, r#"{"error":"Access denied"}"#, "/: Access denied", Config, false, false),
            (403, r#"{"error":"access denied"}"#, "/: access denied", Config, false, false),
            (200, r#"{"error":"Not found"}"#, "Not found", System, false, false),
            (404, r#"{"error":"boom"}"#, "boom", System, false, false),
            // Error 30 with "access denied" (a mock does that) is a permission error.
            (200, r#"{"error":{"error_code":30,"error_msg":"access denied"}}"#, "/: error 30: access denied", Config, false, false),
            // An HTML page (the first answer) is a wrong host.
            (200, "<html>login</html>", "no Flowlu portal answered: HTTP 200 with an HTML page instead of JSON", Config, false, false),
        ];
        for (status, body, display, class, retried, applied) in cases {
            let status = StatusCode::from_u16(*status).unwrap();
            let err = decode(status, &HeaderMap::new(), body.as_bytes(), "s3cr3t").unwrap_err();
            assert_eq!(
                (
                    err.to_string().as_str(),
                    err.failure_class(),
                    err.is_retryable(),
                    err.may_have_been_applied()
                ),
                (*display, *class, *retried, *applied),
                "{status} {body}"
            );
        }
        let record = decode(
            StatusCode::OK,
            &HeaderMap::new(),
            br#"{"error":"Not found"}"#,
            "k",
        )
        .unwrap_err();
        assert!(record.is_record_level());
        let html = decode(StatusCode::OK, &HeaderMap::new(), b"  <!DOCTYPE html>", "k").unwrap_err();
        assert!(html.is_html_page());
    }

    #[test]
    fn redact_removes_every_encoding_of_the_key() {
        let key = r#"k/+=& "\'<é"#;
        let shown = [
            (key.to_string(), "raw"),
            (
                "k%2F%2B%3D%26+%22%5C%27%3C%C3%A9".into(),
                "form-encoded (reqwest's query)",
            ),
            ("k%2F%2B%3D%26%20%22%5C%27%3C%C3%A9".into(), "percent-encoded"),
            (
                "k%2f%2b%3d%26%20%22%5c%27%3c%c3%a9".into(),
                "percent-encoded, lower case",
            ),
            (
                "k/%2B%3D%26%20%22%5C'%3C%C3%A9".into(),
                "percent-encoded, query set",
            ),
            (
                "k%252F%252B%253D%2526%2B%2522%255C%2527%253C%25C3%25A9".into(),
                "form-encoded twice",
            ),
            (r#"k/+=& \"\\'<é"#.into(), "JSON-escaped"),
            (r#"k\/+=& \"\\'<é"#.into(), "JSON-escaped with \\/"),
            (
                r"k\u002F\u002B\u003D\u0026\u0020\u0022\u005C\u0027\u003Cé".into(),
                "\\u escapes",
            ),
            ("k/+=&amp; &quot;\\&#39;&lt;é".into(), "HTML-escaped"),
            (r#"k%2F%2B%3D%26+%22%5C%27%3C%C3%A9"#.into(), "JSON-escaped URL"),
        ];
        for (form, what) in shown {
            let text = format!("GET /x?api_key={form}&page=1 failed");
            assert_eq!(
                redact(&text, key),
                "GET /x?api_key=[REDACTED]&page=1 failed",
                "{what}: {form}"
            );
        }
        assert_eq!(redact("nothing here", key), "nothing here");
        assert_eq!(redact("k", ""), "k");
        // An excerpt is redacted before it is cut: no prefix of the key is left at the cut.
        let body = format!("{}{key}", "x".repeat(198));
        let err = decode(StatusCode::OK, &HeaderMap::new(), body.as_bytes(), key).unwrap_err();
        assert!(
            err.to_string().ends_with(&format!("`{}[R...`", "x".repeat(198))),
            "{err}"
        );
    }

    #[test]
    fn decode_gives_each_failure_its_kind() {
        let kind = |status: u16, headers: HeaderMap, body: &[u8]| {
            let status = StatusCode::from_u16(status).unwrap();
            match decode(status, &headers, body, "k").unwrap_err() {
                Error::Malformed { kind, .. } => format!("malformed {kind:?}"),
                Error::UnknownAccount { kind, .. } => format!("account {kind:?}"),
                Error::Unavailable { kind, .. } => format!("unavailable {kind:?}"),
                other => format!("other {other}"),
            }
        };
        let mut redirect = HeaderMap::new();
        redirect.insert(
            reqwest::header::LOCATION,
            "https://elsewhere.example/login".parse().unwrap(),
        );
        let cases: [(u16, HeaderMap, &[u8], &str); 7] = [
            (
                200,
                HeaderMap::new(),
                br#"{"response": {"id"#,
                "malformed Truncated",
            ),
            (200, HeaderMap::new(), b"oops", "malformed NotJson"),
            (200, HeaderMap::new(), br#"{"answer": 1}"#, "malformed Unexpected"),
            (200, HeaderMap::new(), b"<html>login</html>", "account HtmlPage"),
            (404, HeaderMap::new(), b"", "account NotFound"),
            (302, redirect, b"", "account Redirect"),
            (
                503,
                HeaderMap::new(),
                b"Service Unavailable",
                "unavailable Message",
            ),
        ];
        for (status, headers, body, expected) in cases {
            assert_eq!(kind(status, headers, body), expected, "{status} {body:?}");
        }
    }

    #[test]
    fn decode_redacts_bodies() {
        let body = br#"{"error":{"error_code":12,"error_msg":"bad request for key s3cr3t-key"}}"#;
        let err = decode(StatusCode::OK, &HeaderMap::new(), body, "s3cr3t-key").unwrap_err();
        assert_eq!(err.to_string(), "error 12: bad request for key [REDACTED]");
        let err = decode(
            StatusCode::OK,
            &HeaderMap::new(),
            b"oops s3cr3t-key",
            "s3cr3t-key",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t-key"), "{err}");
        let err = decode(StatusCode::OK, &HeaderMap::new(), br#"{"response": {"id"#, "k").unwrap_err();
        assert!(err.is_retryable(), "a truncated body is retried");
    }

    #[test]
    fn rate_limit_refusals_in_every_form() {
        let mut after = HeaderMap::new();
        after.insert(RETRY_AFTER, reqwest::header::HeaderValue::from_static("3"));
        let json = br#"{"error":"Request rate per second exceeded"}"#;
        let cases: [(u16, &HeaderMap, &[u8], Option<u64>); 5] = [
            (200, &HeaderMap::new(), json, None),
            (503, &HeaderMap::new(), json, None),
            (400, &after, json, Some(3)),
            (429, &HeaderMap::new(), b"Too Many Requests", None),
            (429, &after, b"", Some(3)),
        ];
        for (status, headers, body, secs) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            match decode(status, headers, body, "k") {
                Err(err @ Error::RateLimited { retry_after }) => {
                    assert_eq!(retry_after, secs.map(Duration::from_secs), "{status}");
                    // No status claimed that was not sent (a JSON refusal comes at 200).
                    let text = secs.map_or("rate limited by Flowlu".to_string(), |s| {
                        format!("rate limited by Flowlu (retry after {s}s)")
                    });
                    assert_eq!(err.to_string(), text, "{status}");
                }
                other => panic!("{status}: {other:?}"),
            }
            let order = crate::cursor::Order { cursor: None };
            let page = crate::raw_page::RawListPage::decode(status, headers, body, "k", &order);
            assert!(
                matches!(page, Err(Error::RateLimited { .. })),
                "list page, {status}"
            );
        }
    }
}
