//! The transport: building a client, sending one call and reading its answer's body.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use connector_core::Secret;
use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::base::cursor::Order;
use crate::base::domain::AccountDomain;
use crate::base::error::{Bound, DnsFailure, Error, UnavailableKind, HTML_PAGE};
use crate::client::decode::{answer_values, decode_within};
use crate::client::page::{ListPage, RawListPage};

/// The environment variable the binary reads to point the client at another base URL (a
/// local stand-in). Only loopback `http` URLs and `https` Flowlu hosts are accepted.
pub const BASE_URL_ENV: &str = "FLOWLU_BASE_URL";

/// Default total time for one request.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to establish a connection.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest answer body, in bytes (see [`crate::base::settings::DEFAULT_PAGE_MEGABYTES`]).
pub(crate) const DEFAULT_MAX_BODY: usize =
    crate::base::settings::DEFAULT_PAGE_MEGABYTES as usize * crate::base::settings::MIB;

/// The user agent: the connector and its version.
pub(crate) const USER_AGENT: &str = concat!(
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
    message_host: Option<String>,
}

/// A DNS resolver for the client (the host's own, or a test double). Every lookup goes
/// through it, and its failures come out as [`DnsFailure`], so a name that does not resolve
/// is told from a refused connection by the error's type ([`crate::base::error::TransportKind::Dns`]).
#[derive(Clone)]
pub(crate) struct Resolver(pub std::sync::Arc<dyn reqwest::dns::Resolve>);

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

    /// Names `host` in user messages instead of the base URL's host (a stand-in serving a
    /// real account: messages name the account, not `127.0.0.1:PORT`).
    pub fn message_host(mut self, host: impl Into<String>) -> Self {
        self.message_host = Some(host.into());
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
        let host = self.message_host.unwrap_or_else(|| contacted_host(&base));
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
pub(crate) fn contacted_host(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Whether `host` is this machine: `localhost` or a loopback address.
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Accepts `http` URLs on a loopback host and `https` URLs on a Flowlu host; nothing else.
pub(crate) fn check_base_url(raw: &str) -> Result<Url, Error> {
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
    let loopback = is_loopback(&host);
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
            message_host: None,
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

    /// Whether requests go to this machine (a loopback base URL, as a stand-in has).
    pub fn is_loopback(&self) -> bool {
        Url::parse(&self.base)
            .ok()
            .is_some_and(|u| u.host().is_some_and(|h| is_loopback(&h)))
    }

    /// The host requests go to, with its port when the base URL names one (`acme.flowlu.com`,
    /// or `127.0.0.1:8080` under `FLOWLU_BASE_URL`): what user messages name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// This client with another key (the probe's deliberately wrong one): the same transport,
    /// body cap and resolver.
    pub(crate) fn with_api_key(&self, api_key: Secret) -> Self {
        Self {
            api_key,
            answered: Arc::new(AtomicBool::new(false)),
            ..self.clone()
        }
    }

    /// The key requests carry, to redact answers read outside [`Client::call`].
    pub(crate) fn api_key(&self) -> &Secret {
        &self.api_key
    }

    /// The most JSON values an answer of this client is read into ([`answer_values`] of its
    /// body cap).
    pub(crate) fn answer_values(&self) -> usize {
        answer_values(self.max_body)
    }

    /// Sends one call and returns its answer undecoded: the status, the headers and the body
    /// (read up to the body cap), for the probe, which reports what [`Client::call`] hides.
    /// Transport errors are stripped of their URL; a name that does not resolve is
    /// [`crate::base::error::TransportKind::Dns`].
    pub(crate) async fn send_raw(
        &self,
        call: &Call<'_>,
    ) -> Result<(StatusCode, HeaderMap, impl AsRef<[u8]>), Error> {
        self.send(call).await
    }

    /// `GET .../{module}/{model}/list` with `params` (`page`, `limit`, `order_by[asc][]`,
    /// `filter[...]`, ...).
    pub async fn list(
        &self,
        module: &str,
        model: &str,
        params: &[(String, String)],
    ) -> Result<ListPage, Error> {
        let call = Call::new(module, model, "list").params(params);
        let page = ListPage::from_response(self.call(call).await?)?;
        // Read as a tree within the value budget; a page holding more records than asked is
        // refused as `list_raw` refuses it.
        match call.limit() {
            Some(limit) if page.items.len() > limit => {
                Err(Error::oversized(call.what(), call.page(), Bound::Records(limit)))
            }
            _ => Ok(page),
        }
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
    pub(crate) async fn list_raw(
        &self,
        module: &str,
        model: &str,
        params: &[(String, String)],
        order: &Order,
    ) -> Result<RawListPage, Error> {
        let call = Call::new(module, model, "list").params(params);
        let (status, headers, body) = self.send(&call).await?;
        let page = RawListPage::decode_at_most(
            status,
            &headers,
            body.as_ref(),
            self.api_key.expose(),
            order,
            call.limit(),
            answer_values(self.max_body),
        );
        self.outcome(page, status, &call)
    }

    /// Sends one request and returns the `response` member of the answer.
    pub(crate) async fn call(&self, call: Call<'_>) -> Result<Value, Error> {
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
                let response = decode_within(
                    status,
                    &headers,
                    body.as_ref(),
                    self.api_key.expose(),
                    answer_values(self.max_body),
                );
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
        // One chunk (the common case) is kept as it came; from the second on, chunks are
        // copied into one buffer as they arrive (sized by the announced length), so a body is
        // held about once, not as its chunks and their join.
        let mut body = Body::Joined(Vec::new());
        let mut read = 0;
        while let Some(chunk) = response.chunk().await.map_err(Error::transport)? {
            read += chunk.len();
            if read > limit {
                return Err(oversized(Bound::Bytes(limit)));
            }
            body = match body {
                Body::Joined(joined) if joined.is_empty() && read == chunk.len() => Body::One(chunk),
                Body::One(first) => {
                    let size = usize::try_from(announced).unwrap_or(0).max(read);
                    let mut joined = Vec::with_capacity(size);
                    joined.extend_from_slice(&first);
                    joined.extend_from_slice(&chunk);
                    Body::Joined(joined)
                }
                Body::Joined(mut joined) => {
                    joined.extend_from_slice(&chunk);
                    Body::Joined(joined)
                }
            };
        }
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
pub(crate) struct Call<'a> {
    module: &'a str,
    model: &'a str,
    method: &'a str,
    id: Option<u64>,
    params: &'a [(String, String)],
    form: Option<&'a [(String, String)]>,
}

impl<'a> Call<'a> {
    /// `method` (`list`, `get`, ...) of `module/model`.
    pub(crate) fn new(module: &'a str, model: &'a str, method: &'a str) -> Self {
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
    pub(crate) fn id(mut self, id: u64) -> Self {
        self.id = Some(id);
        self
    }

    /// Query parameters besides `api_key`.
    pub(crate) fn params(mut self, params: &'a [(String, String)]) -> Self {
        self.params = params;
        self
    }

    /// A form body (makes the call a POST).
    pub(crate) fn form(mut self, form: &'a [(String, String)]) -> Self {
        self.form = Some(form);
        self
    }

    /// `module/model/method`, for messages.
    fn what(&self) -> String {
        format!("{}/{}/{}", self.module, self.model, self.method)
    }

    /// The `limit` parameter, if any: the most records a list page may hold.
    fn limit(&self) -> Option<usize> {
        self.params
            .iter()
            .find(|(k, _)| k == "limit")
            .and_then(|(_, v)| v.parse().ok())
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
}
