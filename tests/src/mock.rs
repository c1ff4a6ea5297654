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
