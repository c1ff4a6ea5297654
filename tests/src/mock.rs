//! Flowlu list pages on mockito: the query a list call sends (key first), its page and sort
//! parameters, a page's body and a mocked page.

use mockito::{Matcher, Mock, ServerGuard};
use serde_json::{json, Value};

use crate::CANARY_KEY;

/// A list call's path for `model` (`crm/account`).
pub fn list_path(model: &str) -> String {
    format!("/api/v1/module/{model}/list")
}

/// The exact query: the canary key, then `params` in order.
pub fn query<V: AsRef<str>>(params: &[(&str, V)]) -> Matcher {
    let mut all = vec![("api_key", CANARY_KEY)];
    all.extend(params.iter().map(|(k, v)| (*k, v.as_ref())));
    Matcher::Exact(serde_urlencoded::to_string(all).unwrap())
}

/// The canary key and `extra`, each matched as a form-encoded pair in any order.
pub fn key_query(extra: &[(&str, &str)]) -> Matcher {
    let mut all = vec![Matcher::UrlEncoded("api_key".into(), CANARY_KEY.into())];
    all.extend(
        extra
            .iter()
            .map(|(k, v)| Matcher::UrlEncoded((*k).into(), (*v).into())),
    );
    Matcher::AllOf(all)
}

/// A page in id order: `page`, `limit`, `order_by[asc][]=id`.
pub fn by_id(page: impl ToString, limit: impl ToString) -> Vec<(&'static str, String)> {
    vec![
        ("page", page.to_string()),
        ("limit", limit.to_string()),
        ("order_by[asc][]", "id".to_string()),
    ]
}

/// A page in cursor order: `page`, `limit`, `order_by[asc][]=updated_date`, then `id`.
pub fn by_cursor(page: impl ToString, limit: impl ToString) -> Vec<(&'static str, String)> {
    vec![
        ("page", page.to_string()),
        ("limit", limit.to_string()),
        ("order_by[asc][]", "updated_date".to_string()),
        ("order_by[asc][]", "id".to_string()),
    ]
}

/// Records `{"id", "name": "n{id}"}` for every id of `range`.
pub fn ids(range: std::ops::RangeInclusive<u64>) -> Vec<Value> {
    range
        .map(|id| json!({"id": id, "name": format!("n{id}")}))
        .collect()
}

/// A list page's body: `total` (any JSON, as a portal may send it), page 1, `count`, `items`.
pub fn page_body(items: &[Value], total: impl Into<Value>) -> String {
    json!({"response": {"total": total.into(), "page": 1, "count": items.len(), "items": items}}).to_string()
}

/// A list page of `model` at exactly `params` answered with `status` and `body` (JSON).
pub async fn mock_list(
    server: &mut ServerGuard,
    model: &str,
    params: &[(&'static str, String)],
    status: usize,
    body: String,
) -> Mock {
    server
        .mock("GET", list_path(model).as_str())
        .match_query(query(params))
        .with_status(status)
        .with_header("content-type", "application/json")
        .with_body(body)
        .create_async()
        .await
}

/// A list page of `model` at exactly `params` holding `items` of `total`.
pub async fn mock_page(
    server: &mut ServerGuard,
    model: &str,
    params: &[(&'static str, String)],
    items: &[Value],
    total: impl Into<Value>,
) -> Mock {
    mock_list(server, model, params, 200, page_body(items, total)).await
}

/// One request a scenario expects and the answer it gets, as data (a table row's mock):
/// method, path, query, form body, then status, headers, body and how many times.
#[derive(Clone, Debug)]
pub struct Expect {
    method: &'static str,
    path: String,
    query: Option<Matcher>,
    form: Option<String>,
    status: usize,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<String>,
    at_least: Option<usize>,
    at_most: Option<usize>,
}

impl Expect {
    /// A request of `method` on `path` (any query), answered 200 with an empty body.
    pub fn new(method: &'static str, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: None,
            form: None,
            status: 200,
            headers: Vec::new(),
            body: None,
            at_least: None,
            at_most: None,
        }
    }

    /// A GET of `path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new("GET", path)
    }

    /// A POST of `path` whose body is exactly the form `form` (form-encoded).
    pub fn post(path: impl Into<String>, form: &str) -> Self {
        let mut expect = Self::new("POST", path);
        expect.form = Some(form.to_string());
        expect
    }

    /// The query must match `query`.
    pub fn query(mut self, query: Matcher) -> Self {
        self.query = Some(query);
        self
    }

    /// The query is exactly the canary key.
    pub fn key_only(self) -> Self {
        self.query(Matcher::Exact(format!("api_key={CANARY_KEY}")))
    }

    /// Answered with `status`.
    pub fn status(mut self, status: usize) -> Self {
        self.status = status;
        self
    }

    /// Answered with the header `name: value`.
    pub fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Answered with `body`.
    pub fn answer(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Expected exactly `hits` times.
    pub fn times(mut self, hits: usize) -> Self {
        self.at_least = Some(hits);
        self.at_most = Some(hits);
        self
    }

    /// Expected at least `hits` times.
    pub fn at_least(mut self, hits: usize) -> Self {
        self.at_least = Some(hits);
        self
    }

    /// Expected at most `hits` times.
    pub fn at_most(mut self, hits: usize) -> Self {
        self.at_most = Some(hits);
        self
    }

    /// Registers it on `server` (mockito matches mocks in registration order).
    pub async fn register(&self, server: &mut ServerGuard) -> Mock {
        let mut mock = server.mock(self.method, self.path.as_str());
        if let Some(query) = &self.query {
            mock = mock.match_query(query.clone());
        }
        if let Some(form) = &self.form {
            mock = mock
                .match_header("content-type", "application/x-www-form-urlencoded")
                .match_body(Matcher::Exact(form.clone()));
        }
        mock = mock.with_status(self.status);
        for (name, value) in &self.headers {
            mock = mock.with_header(*name, value);
        }
        if let Some(body) = &self.body {
            mock = mock.with_body(body);
        }
        if let Some(hits) = self.at_least {
            mock = mock.expect_at_least(hits);
        }
        if let Some(hits) = self.at_most {
            mock = mock.expect_at_most(hits);
        }
        mock.create_async().await
    }
}

/// Registers every one of `expected` on `server`, in order.
pub async fn register_all(server: &mut ServerGuard, expected: &[Expect]) -> Vec<Mock> {
    let mut mocks = Vec::with_capacity(expected.len());
    for expect in expected {
        mocks.push(expect.register(server).await);
    }
    mocks
}
