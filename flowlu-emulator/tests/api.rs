//! The emulator over loopback HTTP: envelopes, paging, ordering, filters, CRUD, auth, faults,
//! quirks, mutation and determinism.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use flowlu_emulator::{
    models, ApiKey, Emulator, EmulatorConfig, Faults, Latency, MutationPlan, Quirks, RateCap, Refusal,
    TotalField, ValidationShape,
};
use serde_json::{json, Value};

fn config(records: usize) -> EmulatorConfig {
    EmulatorConfig {
        seed: 42,
        records_per_model: records,
        ..Default::default()
    }
}

async fn start(records: usize) -> Emulator {
    Emulator::start(config(records)).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn url(emu: &Emulator, path: &str, query: &str) -> String {
    format!(
        "{}/api/v1/module/{path}?api_key={}{}{query}",
        emu.base_url(),
        emu.api_key(),
        if query.is_empty() { "" } else { "&" }
    )
}

/// GET `path` with the default key; returns status and parsed JSON.
async fn get(emu: &Emulator, path: &str, query: &str) -> (u16, Value) {
    let r = client().get(url(emu, path, query)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().await.map(|b| parse(&b)).unwrap())
}

async fn get_bytes(emu: &Emulator, path: &str, query: &str) -> Vec<u8> {
    let r = client().get(url(emu, path, query)).send().await.unwrap();
    r.bytes().await.unwrap().to_vec()
}

async fn post_form(emu: &Emulator, path: &str, form: &[(&str, &str)]) -> Value {
    client()
        .post(url(emu, path, ""))
        .form(form)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| parse(&b))
        .unwrap()
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn ids(body: &Value) -> Vec<u64> {
    body["response"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

fn error_code(body: &Value) -> i64 {
    body["error"]["error_code"].as_i64().unwrap()
}

/// The error code of a crm/account list with `query`.
async fn account_error(emu: &Emulator, query: &str) -> i64 {
    error_code(&get(emu, "crm/account/list", query).await.1)
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_owned()
}

#[tokio::test]
async fn pages_cross_boundaries_with_a_short_last_page_and_an_empty_one() {
    let emu = start(250).await;
    let mut seen = Vec::new();
    for (page, want) in [(1, 100), (2, 100), (3, 50), (4, 0)] {
        let (status, body) = get(&emu, "crm/account/list", &format!("page={page}&limit=100")).await;
        assert_eq!(status, 200);
        let r = &body["response"];
        assert_eq!(r["total"], 250);
        assert_eq!(r["page"], page);
        assert_eq!(r["count"], want);
        seen.extend(ids(&body));
    }
    assert_eq!(seen, (1..=250).collect::<Vec<u64>>());
}

#[tokio::test]
async fn limit_is_capped_and_defaults_to_fifty() {
    let emu = start(250).await;
    let (_, body) = get(&emu, "crm/account/list", "limit=500").await;
    assert_eq!(body["response"]["count"], 100);
    let (_, body) = get(&emu, "crm/account/list", "").await;
    assert_eq!(body["response"]["count"], 50);
    assert_eq!(ids(&body), (1..=50).collect::<Vec<u64>>());
    assert_eq!(account_error(&emu, "page=0").await, 12);
    assert_eq!(account_error(&emu, "limit=abc").await, 12);
}

#[tokio::test]
async fn orders_by_id_desc_and_by_updated_date_with_id_tie_break() {
    let emu = start(120).await;
    let (_, body) = get(&emu, "crm/account/list", "order_by[desc][]=id&limit=3&page=2").await;
    assert_eq!(ids(&body), vec![117, 116, 115]);

    let mut want: Vec<(String, u64)> = emu
        .records("crm", "account")
        .iter()
        .map(|r| {
            (
                r["updated_date"].as_str().unwrap().to_owned(),
                r["id"].as_u64().unwrap(),
            )
        })
        .collect();
    want.sort();
    let ties = want.windows(2).filter(|w| w[0].0 == w[1].0).count();
    assert!(ties > 20, "expected many shared updated_date values, got {ties}");
    let mut got = Vec::new();
    for page in 1..=2 {
        let q = format!("order_by[asc][]=updated_date&limit=100&page={page}");
        got.extend(ids(&get(&emu, "crm/account/list", &q).await.1));
    }
    assert_eq!(got, want.iter().map(|w| w.1).collect::<Vec<_>>());

    let q = "order_by[desc][]=updated_date&limit=100";
    let got = ids(&get(&emu, "crm/account/list", q).await.1);
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(got, want.iter().take(100).map(|w| w.1).collect::<Vec<_>>());
}

#[tokio::test]
async fn filters_on_ids_timestamps_values_and_search() {
    let emu = start(250).await;
    let more = enc(r#"{"type":"more","value":240}"#);
    let (_, body) = get(&emu, "crm/account/list", &format!("filter[id]={more}")).await;
    assert_eq!(body["response"]["total"], 10);
    assert_eq!(ids(&body), (241..=250).collect::<Vec<u64>>());

    let less = enc(r#"{"type":"less","value":"4"}"#);
    let (_, body) = get(&emu, "crm/account/list", &format!("filter[id]={less}")).await;
    assert_eq!(ids(&body), vec![1, 2, 3]);

    let records = emu.records("crm", "account");
    let mut stamps: Vec<&str> = records
        .iter()
        .map(|r| r["updated_date"].as_str().unwrap())
        .collect();
    stamps.sort_unstable();
    let pivot = stamps[150];
    let want: Vec<u64> = records
        .iter()
        .filter(|r| r["updated_date"].as_str().unwrap() > pivot)
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    let f = enc(&json!({"type": "more", "value": pivot}).to_string());
    let (_, body) = get(
        &emu,
        "crm/account/list",
        &format!("filter[updated_date]={f}&limit=100"),
    )
    .await;
    assert_eq!(body["response"]["total"], want.len());
    assert_eq!(ids(&body), want);

    let want: Vec<u64> = records
        .iter()
        .filter(|r| r["industry_id"] == 3)
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert!(!want.is_empty());
    let (_, body) = get(&emu, "crm/account/list", "filter[industry_id]=3&limit=100").await;
    assert_eq!(ids(&body), want);
    let active = records.iter().filter(|r| r["active"] == 1).count();
    let (_, body) = get(&emu, "crm/account/list", "filter[active]=1&filter[type]=2").await;
    let both = records
        .iter()
        .filter(|r| r["active"] == 1 && r["type"] == 2)
        .count();
    assert!(both < active);
    assert_eq!(body["response"]["total"], both);

    let want: Vec<u64> = records
        .iter()
        .filter(|r| {
            let text = |v: &Value| v.as_str().is_some_and(|s| s.to_lowercase().contains("acme"));
            r.as_object().unwrap().values().any(text)
        })
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert!(!want.is_empty());
    let (_, body) = get(&emu, "crm/account/list", "search=acme&limit=100").await;
    assert_eq!(ids(&body), want);

    assert_eq!(account_error(&emu, "filter[nope]=1").await, 12);
    assert_eq!(account_error(&emu, "filter[id]=%7Bbroken").await, 12);
}

#[tokio::test]
async fn create_get_update_delete_round_trip_form_encoded() {
    let emu = start(10).await;
    let created = post_form(
        &emu,
        "crm/account/create",
        &[
            ("name", "Zeta Corp"),
            ("email", "z@zeta.example"),
            ("type", "1"),
            ("cf_1", "note"),
        ],
    )
    .await;
    let id = created["response"]["id"].as_u64().unwrap();
    assert_eq!(id, 11);
    let (_, got) = get(&emu, "crm/account/get/11", "").await;
    let rec = &got["response"];
    assert_eq!(rec["name"], "Zeta Corp");
    assert_eq!(rec["type"], 1);
    assert_eq!(rec["cf_1"], "note");
    assert_eq!(rec["active"], 0);
    assert_eq!(rec["created_date"], "2025-01-01 00:00:01");
    assert_eq!(rec["updated_date"], "2025-01-01 00:00:01");
    assert!(rec.get("vat").is_some() && rec.get("VAT").is_none());

    let updated = post_form(
        &emu,
        "crm/account/update/11",
        &[("name", "Zeta Ltd"), ("active", "1")],
    )
    .await;
    assert_eq!(updated["response"]["name"], "Zeta Ltd");
    assert_eq!(updated["response"]["active"], 1);
    assert_eq!(updated["response"]["updated_date"], "2025-01-01 00:00:02");
    assert_eq!(updated["response"]["created_date"], "2025-01-01 00:00:01");
    assert_eq!(emu.records("crm", "account")[10]["name"], "Zeta Ltd");

    let (_, deleted) = get(&emu, "crm/account/delete/11", "").await;
    assert_eq!(deleted, json!({"response": {"id": 11}}));
    assert_eq!(emu.count("crm", "account"), 10);
    let (_, gone) = get(&emu, "crm/account/get/11", "").await;
    assert_eq!(error_code(&gone), 20);
    let (_, gone) = get(&emu, "crm/account/delete/11", "").await;
    assert_eq!(error_code(&gone), 20);
    let gone = post_form(&emu, "crm/account/update/11", &[("name", "x")]).await;
    assert_eq!(error_code(&gone), 20);
}

#[tokio::test]
async fn create_accepts_a_json_body() {
    let emu = start(3).await;
    let body: Value = client()
        .post(url(&emu, "task/tasks/create", ""))
        .header("content-type", "application/json")
        .body(
            json!({"name": "Write docs", "priority": 2, "is_hidden": true, "is_archive": false}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| parse(&b))
        .unwrap();
    assert_eq!(body["response"]["id"], 4);
    assert_eq!(body["response"]["priority"], 2);
    assert_eq!(body["response"]["is_hidden"], 1);
    // Flowlu sends a task's `is_archive` as a string.
    assert_eq!(body["response"]["is_archive"], "0");
    // A new task starts with the first status and type, dates not set.
    assert_eq!(body["response"]["status"], 1);
    assert_eq!(body["response"]["deadline"], "");
}

#[tokio::test]
async fn validation_errors_in_both_shapes() {
    let emu = start(3).await;
    let bad = [("email", "not-an-email"), ("type", "x")];
    let body = post_form(&emu, "crm/account/create", &bad).await;
    assert_eq!(
        body,
        json!({"error": {"error_code": 21, "error_msg": "Validation error", "error_details": {
            "email": "must be a valid e-mail address",
            "type": "must be one of 1, 2",
            "name": "is required",
        }}})
    );
    emu.set_quirks(Quirks {
        validation_shape: ValidationShape::Flat,
        ..Quirks::default()
    });
    let body = post_form(
        &emu,
        "crm/account/update/1",
        &[("name", ""), ("organization_registration_date", "2024-13-01")],
    )
    .await;
    assert_eq!(
        body,
        json!({"error": "validation", "description": "Validation error", "details": {
            "name": "is required",
            "organization_registration_date": "must be a date (YYYY-MM-DD)",
        }})
    );
    assert_eq!(emu.count("crm", "account"), 3);
}

/// GET a list of crm/account with a raw query (no default key); status and error code.
async fn account_list_raw(emu: &Emulator, query: &str) -> (u16, i64) {
    let u = format!("{}/api/v1/module/crm/account/list{query}", emu.base_url());
    let r = client().get(u).send().await.unwrap();
    let status = r.status().as_u16();
    (status, error_code(&parse(&r.bytes().await.unwrap())))
}

#[tokio::test]
async fn bad_key_is_error_11_with_configurable_status() {
    let emu = start(2).await;
    assert_eq!(account_list_raw(&emu, "?api_key=nope").await, (200, 11));
    assert_eq!(account_list_raw(&emu, "").await, (200, 11));
    assert_eq!(account_list_raw(&emu, "?api_key=").await, (200, 11));

    let emu = Emulator::start(EmulatorConfig {
        bad_key_status: 401,
        ..config(2)
    })
    .await
    .unwrap();
    assert_eq!(account_list_raw(&emu, "?api_key=nope").await, (401, 11));
}

#[tokio::test]
async fn keys_limited_to_modules_get_error_22_elsewhere() {
    let emu = Emulator::start(EmulatorConfig {
        keys: vec![ApiKey::limited("crm-only", ["crm"]), ApiKey::all_modules("all")],
        ..config(2)
    })
    .await
    .unwrap();
    assert_eq!(emu.api_key(), "crm-only");
    let (_, body) = get(&emu, "crm/lead/list", "").await;
    assert_eq!(body["response"]["total"], 2);
    let (status, body) = get(&emu, "task/tasks/list", "page=1").await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), 22);
    let r = client()
        .get(format!(
            "{}/api/v1/module/task/tasks/list?api_key=all",
            emu.base_url()
        ))
        .send()
        .await
        .unwrap();
    let body: Value = r.bytes().await.map(|b| parse(&b)).unwrap();
    assert_eq!(body["response"]["total"], 2);
}

#[tokio::test]
async fn unknown_module_model_and_method() {
    let emu = start(2).await;
    assert_eq!(error_code(&get(&emu, "nope/account/list", "").await.1), 31);
    assert_eq!(error_code(&get(&emu, "crm/nope/list", "").await.1), 31);
    assert_eq!(error_code(&get(&emu, "crm/account/frobnicate", "").await.1), 30);
    assert_eq!(error_code(&get(&emu, "crm/account", "").await.1), 30);
    assert_eq!(error_code(&get(&emu, "crm/account/get/abc", "").await.1), 12);
    assert_eq!(error_code(&get(&emu, "crm/account/create", "").await.1), 12);
}

#[tokio::test]
async fn every_model_lists_with_its_timestamps() {
    let emu = start(7).await;
    assert_eq!(models().len(), 49);
    for (module, model) in models() {
        let (_, body) = get(&emu, &format!("{module}/{model}/list"), "limit=100").await;
        let want = match (module, model) {
            ("customfields", "fields") => 30,
            ("customfields", "fieldsets") => 12,
            _ => 7,
        };
        assert_eq!(body["response"]["total"], want, "{module}/{model}");
        let first = &body["response"]["items"][0];
        match module {
            "products" => assert!(first["updated"].is_string() && first["created"].is_string()),
            "core" => assert!(first["last_active"].is_u64() && first["username"].is_string()),
            _ => {}
        }
    }
    let account = &emu.records("crm", "account")[0];
    assert_eq!(account["updated_date"].as_str().unwrap().len(), 19);
    assert!(account.get("cf_1").is_some() && account.get("cf_7").is_some());
    let fields = emu.records("customfields", "fields");
    assert_eq!(fields[0]["module"], "crm");
    assert_eq!(fields[0]["model"], "account");
    assert_eq!(fields[0]["fieldset_id"], 5);
    // Records name their entity in the singular; the API path is plural.
    assert_eq!(
        (&fields[3]["module"], &fields[3]["model"]),
        (&json!("st"), &json!("project"))
    );
    assert_eq!(fields[3]["api_use_alias"], 1);
    let project = &emu.records("st", "projects")[0];
    let alias = fields[3]["alias"].as_str().unwrap();
    assert!(project.get(alias).is_some() && project.get("cf_4").is_none());
    // A select field carries the chosen option's id and its label.
    let task = &emu.records("task", "tasks")[0];
    assert_eq!(fields[20]["type"], "select");
    assert!(task.get("cf_21").is_some() && task["cf_21_value"].is_string());
    // A join table of tasks and lists, not lists.
    let link = &emu.records("task", "taskslists")[0];
    assert!(link["list_id"].is_u64() && link["task_id"].is_u64() && link.get("name").is_none());
}

#[tokio::test]
async fn foreign_keys_point_at_existing_records() {
    let emu = start(30).await;
    for lead in emu.records("crm", "lead") {
        for (field, target) in [("customer_id", 30), ("assignee_id", 30)] {
            if let Some(id) = lead[field].as_u64() {
                assert!((1..=target).contains(&id));
            }
        }
        let pipeline = lead["pipeline_id"].as_u64().unwrap();
        assert!((1..=30).contains(&pipeline));
        assert!([1, 2, 3].contains(&lead["active"].as_u64().unwrap()));
    }
    for contact in emu.records("fin", "invoice_contacts") {
        // Flowlu sends this foreign key as a string.
        let id: u64 = contact["contact_id"].as_str().unwrap().parse().unwrap();
        assert!((1..=30).contains(&id));
    }
}

#[tokio::test]
async fn faults_each_switch() {
    let emu = start(5).await;
    let c = client();
    let u = url(&emu, "crm/account/list", "");
    let only = |f: fn(&mut Faults)| {
        let mut faults = Faults::none();
        f(&mut faults);
        faults
    };

    emu.set_faults(only(|f| {
        f.rate_limit = 1.0;
        f.retry_after_secs = 7;
    }));
    let r = c.get(&u).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "7");

    emu.set_faults(only(|f| f.rate_limit_no_retry_after = 1.0));
    let r = c.get(&u).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_none());

    for (status, set) in [
        (
            500,
            (|f: &mut Faults| f.server_error_500 = 1.0) as fn(&mut Faults),
        ),
        (502, |f| f.bad_gateway_502 = 1.0),
        (503, |f| f.unavailable_503 = 1.0),
    ] {
        emu.set_faults(only(set));
        assert_eq!(c.get(&u).send().await.unwrap().status().as_u16(), status);
    }

    emu.set_faults(only(|f| f.error_13 = 1.0));
    let r = c.get(&u).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(error_code(&r.bytes().await.map(|b| parse(&b)).unwrap()), 13);

    emu.set_faults(only(|f| f.html_login = 1.0));
    let r = c.get(&u).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("<form"));

    emu.set_faults(Faults::none());
    let full = c.get(&u).send().await.unwrap().bytes().await.unwrap();

    emu.set_faults(only(|f| f.truncated_json = 1.0));
    let r = c.get(&u).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cut = r.bytes().await.unwrap();
    assert_eq!(&cut[..], &full[..full.len() / 2]);
    assert!(serde_json::from_slice::<Value>(&cut).is_err());

    emu.set_faults(only(|f| f.drop_mid_body = 1.0));
    let r = c.get(&u).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.bytes().await.is_err());

    emu.set_faults(Faults::none());
    emu.set_latency(Latency {
        fixed_ms: 60,
        jitter_ms: 0,
    });
    let t = std::time::Instant::now();
    assert_eq!(c.get(&u).send().await.unwrap().status().as_u16(), 200);
    assert!(t.elapsed() >= std::time::Duration::from_millis(60));

    let stats = emu.stats();
    let path = "/api/v1/module/crm/account/list";
    assert_eq!(stats.count(path, 429), 2);
    assert_eq!(stats.count(path, 500), 1);
    assert_eq!(stats.count(path, 502), 1);
    assert_eq!(stats.count(path, 503), 1);
    assert_eq!(stats.count(path, 200), 6);
    assert_eq!(stats.total, 11);
    emu.reset_stats();
    assert_eq!(emu.stats().total, 0);
}

/// The statuses of `n` repeats of a few requests under a 50% fault share.
async fn fault_sequence(seed: u64) -> Vec<u16> {
    let emu = Emulator::start(EmulatorConfig {
        seed,
        faults: Faults {
            server_error_500: 0.25,
            rate_limit: 0.25,
            ..Faults::none()
        },
        ..config(5)
    })
    .await
    .unwrap();
    let mut out = Vec::new();
    for _ in 0..10 {
        for page in 1..=3 {
            let u = url(&emu, "crm/account/list", &format!("page={page}"));
            out.push(client().get(u).send().await.unwrap().status().as_u16());
        }
    }
    out
}

#[tokio::test]
async fn fault_decisions_are_deterministic_by_seed() {
    let a = fault_sequence(1).await;
    assert_eq!(a, fault_sequence(1).await);
    assert_ne!(a, fault_sequence(2).await);
    let ok = a.iter().filter(|s| **s == 200).count();
    assert!((5..=25).contains(&ok), "{a:?}");
}

async fn fetch_json(u: String) -> Value {
    parse(&client().get(u).send().await.unwrap().bytes().await.unwrap())
}

async fn half_error_13() -> Emulator {
    Emulator::start(EmulatorConfig {
        faults: Faults {
            error_13: 0.5,
            ..Faults::none()
        },
        ..config(5)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn concurrent_faults_do_not_depend_on_interleaving() {
    let emu = half_error_13().await;
    let page_url = |emu: &Emulator, page: u32| url(emu, "crm/account/list", &format!("page={page}"));
    let tasks: Vec<_> = (1..=20)
        .map(|page| {
            let u = page_url(&emu, page);
            tokio::spawn(async move { (page, fetch_json(u).await.get("error").is_some()) })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    let emu2 = half_error_13().await;
    let mut again = Vec::new();
    for page in (1..=20).rev() {
        let failed = fetch_json(page_url(&emu2, page)).await.get("error").is_some();
        again.push((page, failed));
    }
    again.reverse();
    assert_eq!(got, again);
    assert!(got.iter().any(|g| g.1) && got.iter().any(|g| !g.1));
}

#[tokio::test]
async fn quirks_each_switch() {
    let emu = start(250).await;
    let set = |q: Quirks| emu.set_quirks(q);

    set(Quirks {
        total_field: TotalField::TotalResult,
        ..Quirks::default()
    });
    let (_, body) = get(&emu, "crm/account/list", "limit=1").await;
    assert_eq!(body["response"]["total_result"], 250);
    assert!(body["response"].get("total").is_none());

    set(Quirks {
        total_field: TotalField::Both,
        ..Quirks::default()
    });
    let bytes = get_bytes(&emu, "crm/account/list", "limit=1").await;
    assert!(bytes
        .starts_with(br#"{"response":{"total":250,"total_result":250,"page":1,"count":1,"items":[{"id":1,"#));

    set(Quirks {
        ignore_order_by: true,
        ..Quirks::default()
    });
    let (_, body) = get(&emu, "crm/account/list", "order_by[desc][]=id&limit=2").await;
    assert_eq!(ids(&body), vec![1, 2]);

    set(Quirks {
        ignore_filters: true,
        ..Quirks::default()
    });
    let f = enc(r#"{"type":"more","value":240}"#);
    let (_, body) = get(
        &emu,
        "crm/account/list",
        &format!("filter[id]={f}&search=zzz&limit=2"),
    )
    .await;
    assert_eq!(body["response"]["total"], 250);
    assert_eq!(ids(&body), vec![1, 2]);

    set(Quirks {
        ignore_page: true,
        ..Quirks::default()
    });
    let (_, body) = get(&emu, "crm/account/list", "page=3&limit=2").await;
    assert_eq!(body["response"]["page"], 1);
    assert_eq!(ids(&body), vec![1, 2]);

    set(Quirks {
        page_size_cap: Some(20),
        ..Quirks::default()
    });
    let (_, body) = get(&emu, "crm/account/list", "page=2&limit=100").await;
    assert_eq!(body["response"]["count"], 20);
    assert_eq!(ids(&body), (21..=40).collect::<Vec<u64>>());

    set(Quirks {
        total_field: TotalField::Both,
        lying_total: Some(99_999),
        ..Quirks::default()
    });
    let bytes = get_bytes(&emu, "crm/account/list", "limit=1").await;
    assert!(bytes.starts_with(
        br#"{"response":{"total":99999,"total_result":250,"page":1,"count":1,"items":[{"id":1,"#
    ));

    set(Quirks {
        refuse_filters: Some(21),
        ..Quirks::default()
    });
    let (_, body) = get(&emu, "crm/account/list", &format!("filter[id]={f}&limit=2")).await;
    assert_eq!(body["error"]["error_code"], 21);
    assert_eq!(body["error"]["error_msg"], "Invalid filter on id");
    let (_, body) = get(&emu, "crm/account/list", "limit=2").await;
    assert_eq!(ids(&body), vec![1, 2]);

    set(Quirks {
        refuse_limit_above: Some(100),
        ..Quirks::default()
    });
    let (_, body) = get(&emu, "crm/account/list", "limit=101").await;
    assert_eq!(body["error"]["error_code"], 12);
    assert_eq!(
        body["error"]["error_msg"],
        "Invalid request: limit must be at most 100"
    );
    let (_, body) = get(&emu, "crm/account/list", "limit=100").await;
    assert_eq!(body["response"]["count"], 100);
}

#[tokio::test]
async fn mutation_updates_deletes_and_inserts_after_every_existing_timestamp() {
    let emu = start(100).await;
    let before = emu.records("crm", "lead");
    let max_before = before
        .iter()
        .map(|r| r["updated_date"].as_str().unwrap().to_owned())
        .max()
        .unwrap();
    let plan = MutationPlan {
        updates: 10,
        deletes: 5,
        inserts: 3,
    };
    let summary = emu.mutate("crm", "lead", 9, plan).unwrap();
    assert_eq!(summary.updated.len(), 10);
    assert_eq!(summary.deleted.len(), 5);
    assert_eq!(summary.inserted, vec![101, 102, 103]);
    assert!(summary.timestamp > max_before);
    assert_eq!(emu.count("crm", "lead"), 98);

    let f = enc(&json!({"type": "more", "value": max_before}).to_string());
    let (_, body) = get(
        &emu,
        "crm/lead/list",
        &format!("filter[updated_date]={f}&limit=100"),
    )
    .await;
    let mut want = summary.updated.clone();
    want.extend(&summary.inserted);
    assert_eq!(ids(&body), want);
    for item in body["response"]["items"].as_array().unwrap() {
        assert_eq!(item["updated_date"].as_str().unwrap(), summary.timestamp);
    }
    for id in &summary.deleted {
        let (_, body) = get(&emu, &format!("crm/lead/get/{id}"), "").await;
        assert_eq!(error_code(&body), 20);
    }

    let users = emu
        .mutate(
            "core",
            "user",
            1,
            MutationPlan {
                updates: 2,
                ..Default::default()
            },
        )
        .unwrap();
    let last_active: Vec<i64> = emu
        .records("core", "user")
        .iter()
        .filter(|r| users.updated.contains(&r["id"].as_u64().unwrap()))
        .map(|r| r["last_active"].as_i64().unwrap())
        .collect();
    assert_eq!(last_active.len(), 2);
    // `last_active` is a login time: edits leave it alone.
    assert!(last_active.iter().all(|t| *t < 1_735_689_600));
    assert!(emu.mutate("crm", "nope", 1, plan).is_err());
}

#[tokio::test]
async fn inspection_endpoints_over_http() {
    let emu = start(20).await;
    let c = client();
    let summary: Value = c
        .post(format!("{}/_emulator/mutate", emu.base_url()))
        .header("content-type", "application/json")
        .body(json!({"module": "task", "model": "tasks", "seed": 3, "deletes": 2, "inserts": 1}).to_string())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| parse(&b))
        .unwrap();
    assert_eq!(summary["deleted"].as_array().unwrap().len(), 2);
    assert_eq!(summary["inserted"], json!([21]));
    get(&emu, "task/tasks/list", "").await;
    let stats: Value = c
        .get(format!("{}/_emulator/stats", emu.base_url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| parse(&b))
        .unwrap();
    assert_eq!(stats["total"], 1);
    assert_eq!(stats["by_path"]["/api/v1/module/task/tasks/list"]["200"], 1);
    assert_eq!(stats["counts"]["task/tasks"], 19);
}

#[tokio::test]
async fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = start(150).await;
    let b = start(150).await;
    let c = Emulator::start(EmulatorConfig {
        seed: 43,
        ..config(150)
    })
    .await
    .unwrap();
    let mut pages = HashMap::new();
    for path in [
        "crm/account/list",
        "task/tasks/list",
        "products/product/list",
        "core/user/list",
    ] {
        for page in 1..=2 {
            let q = format!("page={page}&limit=100");
            let left = get_bytes(&a, path, &q).await;
            assert_eq!(left, get_bytes(&b, path, &q).await, "{path} page {page}");
            assert_ne!(left, get_bytes(&c, path, &q).await, "{path} page {page}");
            pages.insert((path, page), left);
        }
    }
    let plan = MutationPlan {
        updates: 3,
        deletes: 3,
        inserts: 3,
    };
    assert_eq!(
        a.mutate("crm", "account", 5, plan).unwrap(),
        b.mutate("crm", "account", 5, plan).unwrap()
    );
    assert_eq!(
        get_bytes(&a, "crm/account/list", "limit=100&page=2").await,
        get_bytes(&b, "crm/account/list", "limit=100&page=2").await
    );
}

/// Kills the spawned binary even when an assertion fails.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_its_base_url_first_and_serves() {
    use std::io::BufRead;
    let mut child = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_flowlu-emulator"))
            .args(["--listen", "127.0.0.1:0", "--seed", "7", "--records", "3"])
            .args(["--key", "k1:crm", "--total-field", "both"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let base = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    })
    .await
    .unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let fetch = |path: &'static str| {
        let base = base.clone();
        async move {
            let bytes = client()
                .get(format!("{base}/api/v1/module/{path}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            parse(&bytes)
        }
    };
    let body = fetch("crm/lead/list?api_key=k1&limit=2").await;
    assert_eq!(body["response"]["total"], 3);
    assert_eq!(body["response"]["total_result"], 3);
    assert_eq!(body["response"]["count"], 2);
    let denied = fetch("task/tasks/list?api_key=k1").await;
    assert_eq!(error_code(&denied), 22);
}

#[tokio::test]
async fn echo_request_in_errors_puts_the_request_into_error_answers() {
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 1,
        quirks: Quirks {
            echo_request_in_errors: true,
            ..Quirks::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, body) = get(&emu, "crm/nope/list", "page=1").await;
    assert_eq!(
        body["error"]["error_msg"],
        format!(
            "Unknown model crm/nope (request GET /api/v1/module/crm/nope/list?api_key={key}&page=1; decoded api_key={key}&page=1; parameters {{\"api_key\":\"{key}\",\"page\":\"1\"}}; ascii {{\"api_key\":\"{key}\",\"page\":\"1\"}}; php {{\"api_key\":\"{key}\",\"page\":\"1\"}}; body ; cut api_key={cut})",
            key = emu.api_key(),
            cut = &emu.api_key()[..10]
        )
    );
    let wrong = client()
        .post(format!(
            "{}/api/v1/module/crm/account/create?api_key=a%2Fb+c",
            emu.base_url()
        ))
        .form(&[("name", "x y")])
        .send()
        .await
        .unwrap();
    let body = parse(&wrong.bytes().await.unwrap());
    assert_eq!(
        body["error"]["error_msg"],
        "Authorization failed: invalid or missing api_key (request POST /api/v1/module/crm/account/create?api_key=a%2Fb+c; decoded api_key=a/b+c; parameters {\"api_key\":\"a/b c\"}; ascii {\"api_key\":\"a/b c\"}; php {\"api_key\":\"a\\/b c\"}; body name=x+y; cut api_key=a/b c)"
    );
    // Non-ASCII: `\u` escapes (a surrogate pair for the emoji) in the Python and PHP forms,
    // `+` kept by the PHP-style decoding, the key cut at ten characters.
    let wrong = client()
        .get(format!(
            "{}/api/v1/module/crm/account/list?api_key=%C3%A9%F0%9F%98%80+x%2B0123456789",
            emu.base_url()
        ))
        .send()
        .await
        .unwrap();
    let body = parse(&wrong.bytes().await.unwrap());
    assert_eq!(
        body["error"]["error_msg"],
        "Authorization failed: invalid or missing api_key (request GET /api/v1/module/crm/account/list?api_key=%C3%A9%F0%9F%98%80+x%2B0123456789; decoded api_key=é😀+x+0123456789; parameters {\"api_key\":\"é😀 x+0123456789\"}; ascii {\"api_key\":\"\\u00e9\\ud83d\\ude00 x+0123456789\"}; php {\"api_key\":\"\\u00e9\\ud83d\\ude00 x+0123456789\"}; body ; cut api_key=é😀 x+01234)"
    );
    // Successful answers are unchanged.
    let (status, body) = get(&emu, "crm/account/list", "").await;
    assert_eq!((status, body["response"]["count"].as_u64()), (200, Some(1)));
}

/// Status and body of a GET with `key`.
async fn get_with_key(emu: &Emulator, key: &str) -> (u16, String) {
    let u = format!("{}/api/v1/module/crm/account/list?api_key={key}", emu.base_url());
    let r = client().get(u).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_rate_cap_is_shared_by_every_key_and_refuses_in_either_form() {
    // 0.05 requests/s: the bucket refills by less than a token during the test.
    let emu = Emulator::start(EmulatorConfig {
        keys: vec![ApiKey::all_modules("key-a"), ApiKey::all_modules("key-b")],
        rate_cap: Some(RateCap {
            per_second: 0.05,
            burst: 3,
            refusal: Refusal::TooManyRequests,
        }),
        ..config(2)
    })
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for key in ["key-a", "key-b", "key-a", "key-b", "key-a"] {
        statuses.push(get_with_key(&emu, key).await);
    }
    let ok = statuses[0].1.clone();
    assert!(ok.starts_with(r#"{"response":"#), "{ok}");
    let refused = (429, "Too Many Requests".to_string());
    assert_eq!(
        statuses,
        [
            (200, ok.clone()),
            (200, ok.clone()),
            (200, ok.clone()),
            refused.clone(),
            refused
        ]
    );
    let r = client()
        .get(url(&emu, "crm/account/list", "").replace(emu.api_key(), "key-a"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("retry-after").is_none(), "no Retry-After");

    for (status, expected) in [(200, 200), (503, 503)] {
        emu.set_rate_cap(Some(RateCap::new(0.05, Refusal::JsonError { status })));
        assert_eq!(
            get_with_key(&emu, "key-b").await,
            (200, ok.clone()),
            "the bucket starts full"
        );
        assert_eq!(
            get_with_key(&emu, "key-a").await,
            (
                expected,
                r#"{"error":"Request rate per second exceeded"}"#.to_string()
            )
        );
    }
    let stats = emu.stats();
    assert_eq!((stats.refused, stats.total), (5, 10));
    let path = "/api/v1/module/crm/account/list";
    assert_eq!(
        (
            stats.count(path, 200),
            stats.count(path, 429),
            stats.count(path, 503)
        ),
        (6, 3, 1)
    );

    emu.set_rate_cap(None);
    for _ in 0..5 {
        assert_eq!(get_with_key(&emu, "key-a").await.0, 200, "no cap");
    }
    assert_eq!(emu.stats().refused, 5);
}
