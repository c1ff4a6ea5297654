//! Every Flowlu model the connector reads and writes, with its stream name and cursor.

/// How a model's cursor column is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    /// `YYYY-MM-DD HH:mm:ss` in the portal's time zone (no offset).
    Timestamp,
    /// Unix seconds (no model uses it since `core/user` reads in full: `last_active` is a login
    /// time, not a change time).
    UnixSeconds,
}

/// One Flowlu model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    /// The stream name, `{module}_{model}`.
    pub stream: &'static str,
    /// The API module (`crm`).
    pub module: &'static str,
    /// The API model (`account`).
    pub model: &'static str,
    /// The cursor column and its encoding, if the model has one.
    pub cursor: Option<(&'static str, CursorKind)>,
}

const fn m(stream: &'static str, module: &'static str, model: &'static str) -> Model {
    Model {
        stream,
        module,
        model,
        cursor: None,
    }
}

const fn c(stream: &'static str, module: &'static str, model: &'static str, column: &'static str) -> Model {
    Model {
        stream,
        module,
        model,
        cursor: Some((column, CursorKind::Timestamp)),
    }
}

/// Every model of docs/flowlu-api.md. Primary key `id` for all.
pub const MODELS: &[Model] = &[
    c("crm_account", "crm", "account", "updated_date"),
    c("crm_lead", "crm", "lead", "updated_date"),
    m("crm_pipeline", "crm", "pipeline"),
    c("crm_pipeline_stage", "crm", "pipeline_stage", "updated_date"),
    c("crm_source", "crm", "source", "updated_date"),
    m("crm_loss_reason", "crm", "loss_reason"),
    m("crm_emails", "crm", "emails"),
    m("crm_account_category", "crm", "account_category"),
    m("crm_industry", "crm", "industry"),
    m("crm_honorific_title", "crm", "honorific_title"),
    m("crm_lead_accounts", "crm", "lead_accounts"),
    c("task_tasks", "task", "tasks", "updated_date"),
    c("task_taskslists", "task", "taskslists", "updated_date"),
    c("task_lists", "task", "lists", "updated_date"),
    c("task_workflows", "task", "workflows", "updated_date"),
    m("task_stages", "task", "stages"),
    c("st_projects", "st", "projects", "updated_date"),
    m("st_stages", "st", "stages"),
    m("st_project_observers", "st", "project_observers"),
    m("st_project_types", "st", "project_types"),
    m("st_portfolio", "st", "portfolio"),
    c("fin_invoice", "fin", "invoice", "updated_date"),
    m("fin_invoice_item", "fin", "invoice_item"),
    m("fin_invoice_contacts", "fin", "invoice_contacts"),
    c("fin_estimate", "fin", "estimate", "updated_date"),
    c("fin_customer_payment", "fin", "customer_payment", "updated_date"),
    c("fin_transaction", "fin", "transaction", "updated_date"),
    m("fin_bank_account", "fin", "bank_account"),
    m("fin_organization", "fin", "organization"),
    c("agile_projects", "agile", "projects", "updated_date"),
    c("agile_issues", "agile", "issues", "updated_date"),
    c("agile_sprints", "agile", "sprints", "updated_date"),
    c("agile_stages", "agile", "stages", "updated_date"),
    c("agile_epics", "agile", "epics", "updated_date"),
    c("agile_workflows", "agile", "workflows", "updated_date"),
    c("agile_categories", "agile", "categories", "updated_date"),
    c("agile_issue_type", "agile", "issue_type", "updated_date"),
    c(
        "agile_issue_relation_types",
        "agile",
        "issue_relation_types",
        "updated_date",
    ),
    c(
        "agile_issue_relation_names",
        "agile",
        "issue_relation_names",
        "updated_date",
    ),
    c(
        "timetracker_timesheets",
        "timetracker",
        "timesheets",
        "updated_date",
    ),
    c("timetracker_timelogs", "timetracker", "timelogs", "updated_date"),
    c("products_product", "products", "product", "updated"),
    c("products_category", "products", "category", "updated"),
    c("products_pricelist", "products", "pricelist", "updated"),
    c("products_manufacturer", "products", "manufacturer", "updated"),
    c("calendar_calendar", "calendar", "calendar", "updated_date"),
    m("customfields_fields", "customfields", "fields"),
    m("customfields_fieldsets", "customfields", "fieldsets"),
    // `last_active` is the last login (Unix seconds): edits do not move it, so it is no
    // change cursor and users are read in full.
    m("core_user", "core", "user"),
];

/// The model of a stream name.
pub fn model(stream: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.stream == stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_derived() {
        let mut seen = std::collections::HashSet::new();
        for m in MODELS {
            assert_eq!(m.stream, format!("{}_{}", m.module, m.model));
            assert!(seen.insert(m.stream), "duplicate {}", m.stream);
        }
        assert_eq!(MODELS.len(), 49);
        assert_eq!(model("core_user").map(|m| m.cursor), Some(None));
        assert!(model("crm_lead_accounts").is_some() && model("agile_projects").is_some());
    }
}
