//! The models the emulator serves: their fields, how each field is generated, validated and
//! coerced, and which timestamp columns they carry.

/// How a field's values are generated and what a written value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gen {
    /// A short title made of two words.
    Title,
    /// A company name.
    Company,
    /// A person's full name.
    Person,
    /// A first name.
    FirstName,
    /// A last name.
    LastName,
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A web address.
    Url,
    /// A sentence.
    Text,
    /// A decimal amount as a string (`"1520.50"`).
    Amount,
    /// A decimal amount as a JSON number.
    Money,
    /// An integer in a range.
    Int(i64, i64),
    /// 0 or 1.
    Bool,
    /// One of a fixed set of strings.
    Pick(&'static [&'static str]),
    /// A foreign key (JSON number) into `"module/model"`.
    Fk(&'static str),
    /// A foreign key sent as a string (`"17"`).
    FkStr(&'static str),
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:mm:ss` (not a cursor).
    DateTime,
    /// A numbered code like `INV-00017`.
    Code(&'static str),
    /// One of a fixed set of integers (an enumeration).
    OneOf(&'static [i64]),
    /// 0 or 1 sent as a string (`"0"`).
    BoolStr,
    /// The module of the entity a record is attached to (`st` of `st`/`project`).
    EntityModule(&'static [(&'static str, &'static str)]),
    /// The singular model of the entity a record is attached to (`project`).
    EntityModel(&'static [(&'static str, &'static str)]),
}

/// One column of a model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub gen: Gen,
    /// Percent of seeded records where the value is empty (`""` for strings, `null` else).
    pub blank: u8,
}

const fn f(name: &'static str, gen: Gen) -> Field {
    Field { name, gen, blank: 0 }
}

const fn b(name: &'static str, gen: Gen, blank: u8) -> Field {
    Field { name, gen, blank }
}

/// Which timestamp columns a model carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamps {
    /// `created_date` and `updated_date`.
    Dated,
    /// `updated_date` only.
    UpdatedOnly,
    /// `created` and `updated` (products).
    Products,
    /// `last_active` as Unix seconds, a login time (core/user).
    User,
    /// None.
    None,
}

impl Stamps {
    /// The column bumped on every write, if any.
    pub(crate) fn updated_column(self) -> Option<&'static str> {
        match self {
            Stamps::Dated | Stamps::UpdatedOnly => Some("updated_date"),
            Stamps::Products => Some("updated"),
            Stamps::User => Some("last_active"),
            Stamps::None => None,
        }
    }

    /// The column set once at creation, if any.
    pub(crate) fn created_column(self) -> Option<&'static str> {
        match self {
            Stamps::Dated => Some("created_date"),
            Stamps::Products => Some("created"),
            Stamps::UpdatedOnly | Stamps::User | Stamps::None => None,
        }
    }
}

/// One model: `module/model`, its fields and the fields a create must carry.
#[derive(Debug)]
pub(crate) struct ModelDef {
    pub module: &'static str,
    pub model: &'static str,
    pub fields: &'static [Field],
    pub required: &'static [&'static str],
    pub stamps: Stamps,
}

impl ModelDef {
    /// `"module/model"`.
    pub(crate) fn key(&self) -> String {
        format!("{}/{}", self.module, self.model)
    }

    /// The spec of a column by name.
    pub(crate) fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|x| x.name == name)
    }
}

const COLORS: &[&str] = &["#3f8ae0", "#e64646", "#4bb34b", "#f5a623", "#9b59b6"];
const CODES: &[&str] = &["USD", "EUR", "GBP", "RUB"];
const TZ: &[&str] = &["Europe/London", "America/New_York", "Europe/Berlin"];
const REQ_NAME: &[&str] = &["name"];
/// What tasks, invoices and time sheets are attached to: Flowlu names the entity by its
/// module and its internal, singular model.
const ATTACHED: &[(&str, &str)] = &[("st", "project"), ("crm", "lead"), ("crm", "account"), ("", "")];
const LOOKUP: &[Field] = &[
    f("name", Gen::Title),
    f("active", Gen::Bool),
    f("ordering", Gen::Int(1, 100)),
];
const TITLE_LOOKUP: &[Field] = &[f("name", Gen::Title), f("ordering", Gen::Int(1, 100))];

macro_rules! model {
    ($module:literal, $model:literal, $stamps:ident, $req:expr, $fields:expr) => {
        ModelDef {
            module: $module,
            model: $model,
            fields: $fields,
            required: $req,
            stamps: Stamps::$stamps,
        }
    };
}

/// The entities that carry custom fields: `(table, module, internal model, fieldset_id)`;
/// custom field `i` (1-based) belongs to `CUSTOM_FIELD_ENTITIES[(i - 1) % len]`. Records
/// name the entity in the singular, and the CRM, lead and project field sets have fixed ids.
pub(crate) const CUSTOM_FIELD_ENTITIES: &[(&str, &str, &str, u64)] = &[
    ("crm/account", "crm", "account", 5),
    ("crm/lead", "crm", "lead", 3),
    ("task/tasks", "task", "task", 8),
    ("st/projects", "st", "project", 1),
    ("fin/invoice", "fin", "invoice", 10),
    ("agile/issues", "agile", "issue", 12),
];

/// Types of custom fields; custom field `i` has type `CUSTOM_FIELD_TYPES[(i - 1) / 6 % 5]`.
pub(crate) const CUSTOM_FIELD_TYPES: &[&str] = &["text", "number", "date", "select", "checkbox"];

/// Every model of the Flowlu API description, with the fields public responses show.
pub(crate) static MODELS: &[ModelDef] = &[
    // crm
    model!(
        "crm",
        "account",
        Dated,
        REQ_NAME,
        &[
            f("type", Gen::OneOf(&[1, 2])),
            f("name", Gen::Company),
            b("first_name", Gen::FirstName, 40),
            b("middle_name", Gen::FirstName, 90),
            b("last_name", Gen::LastName, 40),
            b("honorific_title_id", Gen::Fk("crm/honorific_title"), 50),
            f("owner_id", Gen::Fk("core/user")),
            f("active", Gen::Bool),
            b("account_category_id", Gen::Fk("crm/account_category"), 20),
            b("industry_id", Gen::Fk("crm/industry"), 20),
            b("description", Gen::Text, 30),
            b("email", Gen::Email, 15),
            b("email_personal", Gen::Email, 70),
            b("phone", Gen::Phone, 25),
            b("phone2", Gen::Phone, 70),
            b("phone3", Gen::Phone, 90),
            b("web", Gen::Url, 50),
            b("skype", Gen::FirstName, 80),
            b("telegram", Gen::FirstName, 80),
            b("timezone", Gen::Pick(TZ), 50),
            b("VAT", Gen::Code("VAT"), 30),
            b("VAT1", Gen::Code("VAT"), 80),
            b("VAT2", Gen::Code("VAT"), 90),
            b("address", Gen::Text, 40),
            b("address_legal", Gen::Text, 60),
            b("bank_details", Gen::Text, 70),
            b("name_legal", Gen::Company, 50),
            b("name_legal_full", Gen::Company, 70),
            b("billing_address_line_1", Gen::Text, 50),
            b("billing_address_line_2", Gen::Text, 80),
            b("billing_address_line_3", Gen::Text, 95),
            b("billing_city", Gen::LastName, 50),
            b("billing_country", Gen::Pick(&["US", "DE", "GB", "FR"]), 50),
            b("billing_state", Gen::Code("ST"), 70),
            b("billing_zip", Gen::Code("ZIP"), 50),
            b("shipping_address_line_1", Gen::Text, 60),
            b("shipping_address_line_2", Gen::Text, 85),
            b("shipping_address_line_3", Gen::Text, 95),
            b("shipping_city", Gen::LastName, 60),
            b("shipping_country", Gen::Pick(&["US", "DE", "GB", "FR"]), 60),
            b("shipping_state", Gen::Code("ST"), 80),
            b("shipping_zip", Gen::Code("ZIP"), 60),
            b("link_facebook", Gen::Url, 80),
            b("link_google", Gen::Url, 90),
            b("link_instagram", Gen::Url, 80),
            b("link_linkedin", Gen::Url, 70),
            b("link_vk", Gen::Url, 90),
            b("social_network_link_1", Gen::Url, 80),
            b("social_network_link_2", Gen::Url, 90),
            b("social_network_link_3", Gen::Url, 95),
            b("social_network_link_4", Gen::Url, 95),
            b("social_network_link_5", Gen::Url, 95),
            b("social_network_link_6", Gen::Url, 95),
            b("organization_employee_count", Gen::Int(1, 5000), 60),
            b("organization_expenses", Gen::Money, 70),
            b("organization_revenue", Gen::Money, 60),
            b("organization_registration_date", Gen::Date, 70),
            b("guid_1c", Gen::Code("GUID"), 90),
            b("merged_to", Gen::Fk("crm/account"), 95),
            b("last_activity_id", Gen::Int(1, 5000), 40),
            b("last_activity_model", Gen::Pick(&["task", "email", "call"]), 40),
            b("last_activity_time", Gen::DateTime, 40),
            b("ref", Gen::Pick(&["import", "api", "web"]), 60),
            b("ref_id", Gen::Int(1, 99_999), 60),
            b("extra_fields", Gen::Text, 90),
        ]
    ),
    model!(
        "crm",
        "lead",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 30),
            f("active", Gen::OneOf(&[1, 2, 3])),
            f("pipeline_id", Gen::Fk("crm/pipeline")),
            f("pipeline_stage_id", Gen::Fk("crm/pipeline_stage")),
            b("source_id", Gen::Fk("crm/source"), 20),
            f("assignee_id", Gen::Fk("core/user")),
            b("customer_id", Gen::Fk("crm/account"), 10),
            b("contact_id", Gen::Fk("crm/account"), 40),
            f("created_by", Gen::Fk("core/user")),
            b("budget", Gen::Money, 20),
            b("adjustment", Gen::Money, 80),
            b("adjustment_description", Gen::Text, 85),
            b("shipping_charge", Gen::Money, 80),
            f("auto_calc", Gen::Pick(&["0", "1"])),
            b("pricelist_id", Gen::Fk("products/pricelist"), 60),
            b("start_date", Gen::Date, 10),
            b("deadline", Gen::Date, 40),
            b("closing_date", Gen::Date, 60),
            b("closing_status_id", Gen::Fk("crm/loss_reason"), 80),
            b("closing_comment", Gen::Text, 80),
            b("contact_company", Gen::Company, 50),
            b("contact_name", Gen::Person, 40),
            b("contact_position", Gen::Title, 70),
            b("contact_email", Gen::Email, 40),
            b("contact_phone", Gen::Phone, 50),
            b("contact_mobile", Gen::Phone, 70),
            b("contact_web", Gen::Url, 70),
            b("merged_to_id", Gen::Fk("crm/lead"), 95),
            f("ordering", Gen::Int(1, 1000)),
            b("last_activity_id", Gen::Int(1, 5000), 40),
            b("last_activity_model", Gen::Pick(&["task", "email", "call"]), 40),
            b("last_activity_time", Gen::DateTime, 40),
            b("ref", Gen::Pick(&["import", "api", "web"]), 60),
            b("ref_id", Gen::Int(1, 99_999), 60),
        ]
    ),
    model!(
        "crm",
        "pipeline",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 50),
            f("ordering", Gen::Int(1, 100)),
            f("type_access", Gen::Pick(&["all", "selected"])),
        ]
    ),
    model!(
        "crm",
        "pipeline_stage",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("pipeline_id", Gen::Fk("crm/pipeline")),
            f("ordering", Gen::Int(1, 100)),
            f("probability", Gen::Int(0, 100)),
            f("color", Gen::Pick(COLORS)),
        ]
    ),
    model!("crm", "source", Dated, REQ_NAME, LOOKUP),
    model!("crm", "loss_reason", None, REQ_NAME, LOOKUP),
    model!(
        "crm",
        "emails",
        None,
        &["email"],
        &[
            f("account_id", Gen::Fk("crm/account")),
            f("email", Gen::Email),
            f("type", Gen::OneOf(&[1, 2, 3])),
            b("comment", Gen::Text, 70),
        ]
    ),
    model!("crm", "account_category", None, REQ_NAME, LOOKUP),
    model!("crm", "industry", None, REQ_NAME, LOOKUP),
    model!("crm", "honorific_title", None, REQ_NAME, TITLE_LOOKUP),
    model!(
        "crm",
        "lead_accounts",
        None,
        &["lead_id", "account_id"],
        &[
            f("lead_id", Gen::Fk("crm/lead")),
            f("account_id", Gen::Fk("crm/account")),
            f("account_type", Gen::OneOf(&[1, 2])),
        ]
    ),
    // task
    model!(
        "task",
        "tasks",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 30),
            f("type", Gen::OneOf(&[0, 1, 20, 21, 22, 23, 30, 40])),
            f("status", Gen::OneOf(&[1, 3, 4, 5])),
            f("priority", Gen::Int(1, 3)),
            f("owner_id", Gen::Fk("core/user")),
            b("responsible_id", Gen::Fk("core/user"), 10),
            b("crm_account_id", Gen::Fk("crm/account"), 50),
            b("parent_id", Gen::Fk("task/tasks"), 80),
            b("prev_task_id", Gen::Fk("task/tasks"), 90),
            b("template_id", Gen::Int(1, 20), 90),
            f("workflow_id", Gen::Fk("task/workflows")),
            f("workflow_stage_id", Gen::Fk("task/stages")),
            b("project_stage_id", Gen::Fk("st/stages"), 60),
            b("project_checkitem_id", Gen::Int(1, 500), 90),
            f("module", Gen::EntityModule(ATTACHED)),
            f("model", Gen::EntityModel(ATTACHED)),
            b("model_id", Gen::Int(1, 200), 25),
            b("start_date", Gen::DateTime, 20),
            b("deadline", Gen::DateTime, 30),
            f("deadline_allowchange", Gen::Bool),
            b("plan_start_date", Gen::DateTime, 60),
            b("plan_end_date", Gen::DateTime, 60),
            f("all_day", Gen::Bool),
            f("time_estimate", Gen::Int(0, 144_000)),
            f("time_spent", Gen::Int(0, 144_000)),
            b("cost", Gen::Money, 70),
            f("cost_type", Gen::Pick(&["fixed", "hourly"])),
            b("price", Gen::Money, 70),
            f("price_type", Gen::Pick(&["fixed", "hourly"])),
            b("rating", Gen::Int(0, 5), 80),
            b("report", Gen::Text, 80),
            b("report_complete", Gen::Text, 85),
            f("return_count", Gen::Int(0, 3)),
            f("task_checkbyowner", Gen::Bool),
            f("is_archive", Gen::BoolStr),
            f("archive_status", Gen::Int(0, 1)),
            f("is_hidden", Gen::Bool),
            f("is_repeat", Gen::Bool),
            f("public_template", Gen::Bool),
            f("ordering", Gen::Int(1, 1000)),
            b("closed_by", Gen::Fk("core/user"), 60),
            b("closed_date", Gen::DateTime, 60),
            b("first_closed_date", Gen::DateTime, 70),
            b("status_firstviewdate", Gen::DateTime, 40),
            b("status_updated_by", Gen::Fk("core/user"), 40),
            b("status_updated_date", Gen::DateTime, 40),
            f("event_type", Gen::Int(0, 2)),
            f("event_access_type", Gen::Int(0, 2)),
            f("event_busy_status", Gen::Int(0, 2)),
            b("event_calendar_id", Gen::Fk("calendar/calendar"), 80),
            b("event_color", Gen::Pick(COLORS), 80),
            b("event_etag", Gen::Code("ETAG"), 90),
            b("event_location", Gen::Text, 90),
            f("event_sync_type", Gen::Int(0, 2)),
            f("uuid", Gen::Code("UUID")),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
            b("extra_fields", Gen::Text, 90),
            b("updated_by", Gen::Fk("core/user"), 20),
        ]
    ),
    model!(
        "task",
        "taskslists",
        Dated,
        &["list_id", "task_id"],
        &[
            f("list_id", Gen::Fk("task/lists")),
            f("task_id", Gen::Fk("task/tasks")),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 40),
        ]
    ),
    model!(
        "task",
        "lists",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("active", Gen::Bool),
            f("color", Gen::Pick(COLORS)),
            b("icon", Gen::Pick(&["star", "flag", "bell"]), 40),
            f("ordering", Gen::Int(1, 100)),
            f("user_id", Gen::Fk("core/user")),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 40),
        ]
    ),
    model!(
        "task",
        "workflows",
        UpdatedOnly,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 50),
            f("active", Gen::Bool),
            f("ordering", Gen::Int(1, 100)),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 40),
        ]
    ),
    model!(
        "task",
        "stages",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("workflow_id", Gen::Fk("task/workflows")),
            f("ordering", Gen::Int(1, 100)),
            f("color", Gen::Pick(COLORS)),
        ]
    ),
    // st
    model!(
        "st",
        "projects",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 30),
            f("manager_id", Gen::Fk("core/user")),
            b("customer_id", Gen::Fk("crm/account"), 30),
            b("customer_crm_contact_id", Gen::Fk("crm/account"), 70),
            b("crm_lead_id", Gen::Fk("crm/lead"), 70),
            b("briefcase_id", Gen::Fk("st/portfolio"), 40),
            b("project_type_id", Gen::Fk("st/project_types"), 20),
            f("stage_id", Gen::Fk("st/stages")),
            b("tasks_workflow_id", Gen::Fk("task/workflows"), 30),
            f("workspace_id", Gen::Int(1, 3)),
            f("priority", Gen::Int(1, 3)),
            f("ordering", Gen::Int(1, 1000)),
            b("startdate", Gen::Date, 10),
            b("enddate", Gen::Date, 30),
            b("estimated_revenue", Gen::Money, 30),
            b("estimated_expenses", Gen::Money, 50),
            f("billing_type", Gen::Int(0, 3)),
            f("bill_taxes", Gen::Bool),
            f("default_bill_time_type", Gen::Pick(&["task", "user", "project"])),
            b("default_billing_rate", Gen::Money, 50),
            b("default_employee_cost_rate", Gen::Money, 50),
            f("default_invoice_item_format", Gen::Pick(&["single", "task"])),
            f("default_invoice_split_type_in_project", Gen::Int(0, 2)),
            f("use_default_invoice_split_type", Gen::Bool),
            f("default_only_completed_task", Gen::Pick(&["0", "1"])),
            f("default_time_cost_type", Gen::Pick(&["task", "user"])),
            f("is_archive", Gen::Bool),
            b("archive_date", Gen::DateTime, 85),
            b("archive_description", Gen::Text, 90),
            f("uuid", Gen::Code("UUID")),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
            b("extra_fields", Gen::Text, 90),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "st",
        "stages",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("ordering", Gen::Int(1, 100)),
            f("color", Gen::Pick(COLORS)),
        ]
    ),
    model!(
        "st",
        "project_observers",
        None,
        &["project_id", "user_id"],
        &[
            f("project_id", Gen::Fk("st/projects")),
            f("user_id", Gen::Fk("core/user")),
            f("role", Gen::Int(1, 3)),
        ]
    ),
    model!("st", "project_types", None, REQ_NAME, TITLE_LOOKUP),
    model!(
        "st",
        "portfolio",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 40),
            f("ordering", Gen::Int(1, 100)),
        ]
    ),
    // fin
    model!(
        "fin",
        "invoice",
        Dated,
        &["customer_id"],
        &[
            f("type", Gen::Int(0, 1)),
            f("invoice_number", Gen::Int(1, 99_999)),
            f("invoice_number_print", Gen::Code("INV")),
            b("reference", Gen::Code("PO"), 60),
            f("status_id", Gen::Int(1, 5)),
            f("org_id", Gen::Fk("fin/organization")),
            b("org_account_id", Gen::Fk("fin/bank_account"), 30),
            f("customer_id", Gen::Fk("crm/account")),
            f("customer_name", Gen::Company),
            b("customer_legal_name", Gen::Company, 50),
            f("assignee_id", Gen::Fk("core/user")),
            b("category_id", Gen::Int(1, 10), 70),
            b("group_id", Gen::Int(1, 10), 80),
            b("estimate_id", Gen::Fk("fin/estimate"), 70),
            b("template_id", Gen::Int(1, 5), 60),
            b("template_name", Gen::Title, 60),
            b("recurring_invoice_id", Gen::Int(1, 50), 90),
            b("pricelist_id", Gen::Fk("products/pricelist"), 60),
            f("currency_id", Gen::Int(1, 4)),
            f("currency_code", Gen::Pick(CODES)),
            f("ps_currency_id", Gen::Int(1, 4)),
            f("pm_currency_id", Gen::Int(1, 4)),
            f("invoice_date", Gen::Date),
            b("due_date", Gen::Date, 20),
            b("paid_date", Gen::Date, 50),
            f("sub_total", Gen::Money),
            f("tax1", Gen::Money),
            f("tax1_included", Gen::Bool),
            f("tax2", Gen::Money),
            f("tax2_included", Gen::Bool),
            f("tax_total", Gen::Money),
            f("discount", Gen::Money),
            f("discount_before_tax", Gen::Bool),
            f("is_discount_percent", Gen::Bool),
            f("adjustment", Gen::Money),
            b("adjustment_description", Gen::Text, 80),
            f("shipping_charge", Gen::Money),
            f("total", Gen::Money),
            f("bcy_paid_total", Gen::Money),
            f("pscy_paid_total", Gen::Money),
            b("plan_money_id", Gen::Int(1, 100), 80),
            b("plan_money_total", Gen::Money, 80),
            f("use_multiple_pm", Gen::Bool),
            b("paymethod_id", Gen::Int(1, 5), 60),
            b("payment_options", Gen::Text, 70),
            b("bank", Gen::Company, 50),
            b("bank_id", Gen::Fk("fin/bank_account"), 50),
            b("bill_from_address", Gen::Text, 40),
            b("bill_from_city", Gen::LastName, 40),
            b("bill_from_state", Gen::Code("ST"), 70),
            b("bill_from_zip", Gen::Code("ZIP"), 40),
            b("bill_from_country_id", Gen::Int(1, 200), 40),
            b("bill_to_address", Gen::Text, 40),
            b("bill_to_city", Gen::LastName, 40),
            b("bill_to_state", Gen::Code("ST"), 70),
            b("bill_to_zip", Gen::Code("ZIP"), 40),
            b("bill_to_country_id", Gen::Int(1, 200), 40),
            b("company_phone", Gen::Phone, 50),
            b("company_phone2", Gen::Phone, 80),
            b("company_vat", Gen::Code("VAT"), 50),
            b("company_vat2", Gen::Code("VAT"), 85),
            b("contact_person", Gen::Person, 40),
            b("contact_person_position", Gen::Title, 60),
            b("contact_person2", Gen::Person, 80),
            b("contact_person2_position", Gen::Title, 85),
            b("org_phone", Gen::Phone, 40),
            b("org_phone2", Gen::Phone, 80),
            b("org_vat", Gen::Code("VAT"), 40),
            b("org_vat2", Gen::Code("VAT"), 85),
            b("note", Gen::Text, 60),
            b("invoice_footer_text", Gen::Text, 60),
            b("invoice_terms_text", Gen::Text, 60),
            f("is_invoice_emailed", Gen::Bool),
            b("invoice_emailed_date", Gen::DateTime, 50),
            f("is_reminder_sent", Gen::Bool),
            b("reminders_sent_date", Gen::DateTime, 70),
            f("is_template", Gen::Bool),
            f("show_add_sign_string", Gen::Bool),
            f("exported_1c", Gen::Bool),
            f("module", Gen::EntityModule(ATTACHED)),
            f("model", Gen::EntityModel(ATTACHED)),
            b("model_id", Gen::Int(1, 200), 25),
            f("uuid", Gen::Code("UUID")),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "fin",
        "invoice_item",
        None,
        &["invoice_id", "name"],
        &[
            f("invoice_id", Gen::Fk("fin/invoice")),
            b("item_id", Gen::Fk("products/product"), 30),
            f("type", Gen::Int(0, 2)),
            f("name", Gen::Title),
            b("description", Gen::Text, 50),
            f("quantity", Gen::Int(1, 20)),
            b("unit_id", Gen::Int(1, 10), 40),
            f("unit_price", Gen::Money),
            f("discount", Gen::Amount),
            f("discount_amount", Gen::Money),
            f("discount_is_percent", Gen::Bool),
            f("sub_total", Gen::Money),
            f("tax1", Gen::Money),
            f("tax1_amount", Gen::Money),
            f("tax1_included", Gen::Bool),
            f("tax2", Gen::Money),
            f("tax2_amount", Gen::Money),
            f("tax2_included", Gen::Bool),
            b("tax_displayed", Gen::Pick(&["0%", "10%", "20%"]), 40),
            f("tax_total", Gen::Money),
            f("total", Gen::Money),
            f("paid_total", Gen::Money),
            f("bcy_paid_total", Gen::Money),
            b("paid_date", Gen::Date, 50),
            b("plan_money_id", Gen::Int(1, 100), 80),
            b("plan_money_total", Gen::Money, 80),
            f("online_payment_type", Gen::Int(0, 7)),
            f("online_payment_subject_type", Gen::Int(0, 13)),
            f("online_payment_vat", Gen::Int(0, 6)),
            f("ordering", Gen::Int(1, 50)),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
        ]
    ),
    model!(
        "fin",
        "invoice_contacts",
        None,
        &["invoice_id", "contact_id"],
        &[
            f("invoice_id", Gen::Fk("fin/invoice")),
            f("contact_id", Gen::FkStr("crm/account")),
            b("email_id", Gen::Fk("crm/emails"), 30),
            f("is_primary", Gen::Bool),
            f("invoice_emailed", Gen::Bool),
            b("invoice_emailed_date", Gen::DateTime, 50),
            f("reminders_sent", Gen::Int(0, 3)),
            b("reminders_sent_date", Gen::DateTime, 70),
        ]
    ),
    model!(
        "fin",
        "estimate",
        UpdatedOnly,
        &["customer_id"],
        &[
            f("type", Gen::Int(0, 1)),
            f("estimate_number", Gen::Int(1, 99_999)),
            f("estimate_number_print", Gen::Code("EST")),
            b("reference_number", Gen::Code("PO"), 60),
            f("status_id", Gen::Int(1, 5)),
            f("active", Gen::Bool),
            f("org_id", Gen::Fk("fin/organization")),
            f("customer_id", Gen::Fk("crm/account")),
            f("customer_name", Gen::Company),
            b("customer_legal_name", Gen::Company, 50),
            f("assignee_id", Gen::Fk("core/user")),
            b("group_id", Gen::Int(1, 10), 80),
            b("template_id", Gen::Int(1, 5), 60),
            b("pricelist_id", Gen::Fk("products/pricelist"), 60),
            f("currency_id", Gen::Int(1, 4)),
            f("currency_code", Gen::Pick(CODES)),
            f("exchange_rate", Gen::Money),
            f("invoice_date", Gen::Date),
            b("expire_date", Gen::Date, 30),
            f("sub_total", Gen::Money),
            f("tax1", Gen::Money),
            f("tax1_included", Gen::Bool),
            f("tax2", Gen::Money),
            f("tax2_included", Gen::Bool),
            f("tax_total", Gen::Money),
            f("discount", Gen::Money),
            f("discount_before_tax", Gen::Bool),
            f("is_discount_percent", Gen::Bool),
            f("adjustment", Gen::Money),
            b("adjustment_description", Gen::Text, 80),
            f("shipping_charge", Gen::Money),
            f("total", Gen::Money),
            b("bill_from_address", Gen::Text, 40),
            b("bill_from_city", Gen::LastName, 40),
            b("bill_from_state", Gen::Code("ST"), 70),
            b("bill_from_zip", Gen::Code("ZIP"), 40),
            b("bill_from_country_id", Gen::Int(1, 200), 40),
            b("bill_to_address", Gen::Text, 40),
            b("bill_to_city", Gen::LastName, 40),
            b("bill_to_state", Gen::Code("ST"), 70),
            b("bill_to_zip", Gen::Code("ZIP"), 40),
            b("bill_to_country_id", Gen::Int(1, 200), 40),
            b("company_phone", Gen::Phone, 50),
            b("company_phone2", Gen::Phone, 80),
            b("company_vat", Gen::Code("VAT"), 50),
            b("company_vat2", Gen::Code("VAT"), 85),
            b("contact_person", Gen::Person, 40),
            b("contact_person_position", Gen::Title, 60),
            b("org_phone", Gen::Phone, 40),
            b("org_phone2", Gen::Phone, 80),
            b("org_vat", Gen::Code("VAT"), 40),
            b("org_vat2", Gen::Code("VAT"), 85),
            b("estimate_footer_text", Gen::Text, 60),
            b("estimate_terms_text", Gen::Text, 60),
            b("estimate_emailed_date", Gen::DateTime, 60),
            f("module", Gen::EntityModule(ATTACHED)),
            f("model", Gen::EntityModel(ATTACHED)),
            b("model_id", Gen::Int(1, 200), 25),
            f("uuid", Gen::Code("UUID")),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "fin",
        "customer_payment",
        Dated,
        &["total"],
        &[
            f("type", Gen::Int(0, 2)),
            f("name", Gen::Title),
            b("description", Gen::Text, 50),
            f("status", Gen::Int(0, 3)),
            f("status_pls", Gen::Int(0, 3)),
            f("total", Gen::Money),
            f("charge", Gen::Money),
            f("currency_id", Gen::Int(1, 4)),
            f("bank_account_id", Gen::Fk("fin/bank_account")),
            f("org_id", Gen::Fk("fin/organization")),
            b("crm_company_id", Gen::Fk("crm/account"), 20),
            b("project_id", Gen::Fk("st/projects"), 50),
            b("project_stage_id", Gen::Fk("st/stages"), 70),
            f("owner_id", Gen::Fk("core/user")),
            f("date", Gen::Date),
            b("startdate", Gen::Date, 50),
            b("enddate", Gen::Date, 50),
            b("complete_date", Gen::DateTime, 40),
            f("is_complete", Gen::Bool),
            f("is_manual", Gen::Bool),
            f("is_owed", Gen::Bool),
            f("need_approve", Gen::Bool),
            f("ordering", Gen::Int(1, 1000)),
            b("reference", Gen::Code("PO"), 60),
            f("uuid", Gen::Code("UUID")),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
            b("ref_uuid", Gen::Code("UUID"), 80),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "fin",
        "transaction",
        Dated,
        &["date"],
        &[
            f("type", Gen::Int(1, 3)),
            f("name", Gen::Title),
            b("description", Gen::Text, 50),
            f("status", Gen::Int(0, 2)),
            f("date", Gen::Date),
            f("income", Gen::Money),
            f("outcome", Gen::Money),
            f("charge", Gen::Money),
            f("bcy_income", Gen::Money),
            f("bcy_outcome", Gen::Money),
            f("bcy_charge", Gen::Money),
            f("currency_id", Gen::Int(1, 4)),
            f("currency_exchange_rate", Gen::Money),
            f("org_id", Gen::Fk("fin/organization")),
            f("org_account_id", Gen::Fk("fin/bank_account")),
            b("crm_account_id", Gen::Fk("crm/account"), 40),
            b("project_id", Gen::Fk("st/projects"), 50),
            b("invoice_id", Gen::Fk("fin/invoice"), 50),
            b("category_id", Gen::Int(1, 20), 30),
            b("business_line_id", Gen::Int(1, 5), 70),
            f("manager_id", Gen::Fk("core/user")),
            f("is_charge", Gen::Bool),
            f("is_generated", Gen::Bool),
            f("is_storno", Gen::Bool),
            b("plan_money_id", Gen::Int(1, 100), 80),
            b("plan_money_total", Gen::Money, 80),
            f("pm_currency_id", Gen::Int(1, 4)),
            b("store_doc_id", Gen::Int(1, 100), 90),
            b("store_doc_currency_id", Gen::Int(1, 4), 90),
            b("store_doc_total", Gen::Money, 90),
            b("reference", Gen::Code("PO"), 60),
            b("reference_id", Gen::Int(1, 1000), 70),
            f("ordering", Gen::Int(1, 1000)),
            f("uuid", Gen::Code("UUID")),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Int(1, 99_999), 70),
            b("ref_uuid", Gen::Code("UUID"), 80),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "fin",
        "bank_account",
        None,
        REQ_NAME,
        &[
            f("type", Gen::Int(1, 3)),
            f("name", Gen::Title),
            f("active", Gen::Bool),
            f("org_id", Gen::Fk("fin/organization")),
            f("manager_id", Gen::Fk("core/user")),
            b("account_group_id", Gen::Int(1, 5), 50),
            f("currency_id", Gen::Int(1, 4)),
            f("currency_exchange_rate", Gen::Money),
            f("bcy_balance", Gen::Money),
            f("pls_bcy_balance", Gen::Money),
            f("excluded_balance", Gen::Money),
            f("fixed_balance", Gen::Money),
            b("fixed_balance_date", Gen::DateTime, 50),
            f("pls_fixed_balance", Gen::Money),
            b("pls_fixed_balance_date", Gen::DateTime, 50),
            b("closed_at", Gen::DateTime, 85),
            f("ordering", Gen::Int(1, 100)),
            f("ordering_by_group", Gen::Int(1, 100)),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
        ]
    ),
    model!(
        "fin",
        "organization",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Company),
            b("name_legal", Gen::Company, 30),
            b("address", Gen::Text, 30),
            b("phone", Gen::Phone, 30),
            b("email", Gen::Email, 30),
            b("vat", Gen::Code("VAT"), 30),
            f("currency_id", Gen::Int(1, 4)),
            f("is_default", Gen::Bool),
        ]
    ),
    // agile
    model!(
        "agile",
        "projects",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 40),
            f("owner_id", Gen::Fk("core/user")),
            f("workflow_id", Gen::Fk("agile/workflows")),
        ]
    ),
    model!(
        "agile",
        "issues",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 30),
            f("number", Gen::Int(1, 9999)),
            f("number_label", Gen::Code("ISS")),
            f("project_id", Gen::Fk("agile/projects")),
            b("sprint_id", Gen::Fk("agile/sprints"), 30),
            b("epic_id", Gen::Fk("agile/epics"), 50),
            f("type_id", Gen::Fk("agile/issue_type")),
            b("category_id", Gen::Fk("agile/categories"), 40),
            f("workflow_stage_id", Gen::Fk("agile/stages")),
            b("parent_issue_id", Gen::Fk("agile/issues"), 80),
            b("assignee_id", Gen::Fk("core/user"), 20),
            f("creator_id", Gen::Fk("core/user")),
            f("priority", Gen::Int(1, 5)),
            b("estimate", Gen::Int(0, 13), 40),
            b("effort", Gen::Int(0, 13), 60),
            b("value", Gen::Pick(&["low", "medium", "high"]), 60),
            f("ordering", Gen::Int(1, 1000)),
            f("is_archived", Gen::Bool),
            b("archived_date", Gen::DateTime, 85),
            b("completed_date", Gen::DateTime, 60),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
        ]
    ),
    model!(
        "agile",
        "sprints",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 50),
            f("project_id", Gen::Fk("agile/projects")),
            f("active", Gen::Bool),
            f("started", Gen::Bool),
            b("start_date", Gen::Date, 10),
            b("deadline", Gen::Date, 20),
            b("standup_time", Gen::Pick(&["09:30", "10:00"]), 50),
            b("changelog", Gen::Text, 70),
        ]
    ),
    model!(
        "agile",
        "stages",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 60),
            f("workflow_id", Gen::Fk("agile/workflows")),
            f("status", Gen::Int(1, 3)),
            f("color", Gen::Pick(COLORS)),
            f("ordering", Gen::Int(1, 100)),
        ]
    ),
    model!(
        "agile",
        "epics",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 40),
            f("project_id", Gen::Fk("agile/projects")),
            f("is_completed", Gen::Bool),
            b("start_date", Gen::Date, 30),
            b("end_date", Gen::Date, 40),
            f("ordering", Gen::Int(1, 100)),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "agile",
        "workflows",
        Dated,
        REQ_NAME,
        &[f("name", Gen::Title), b("description", Gen::Text, 60)]
    ),
    model!(
        "agile",
        "categories",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 60),
            f("project_id", Gen::Fk("agile/projects")),
            b("parent_id", Gen::Fk("agile/categories"), 70),
            b("assignee_id", Gen::Fk("core/user"), 50),
            f("color", Gen::Pick(COLORS)),
            f("ordering", Gen::Int(1, 100)),
        ]
    ),
    model!(
        "agile",
        "issue_type",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 60),
            f("type", Gen::Int(1, 4)),
            f("icon", Gen::Pick(&["bug", "story", "task", "epic"])),
            f("color", Gen::Pick(COLORS)),
            f("is_default", Gen::Bool),
            f("ordering", Gen::Int(1, 100)),
        ]
    ),
    model!(
        "agile",
        "issue_relation_types",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("parent_relation_name_id", Gen::Fk("agile/issue_relation_names")),
            f("child_relation_name_id", Gen::Fk("agile/issue_relation_names")),
        ]
    ),
    model!(
        "agile",
        "issue_relation_names",
        Dated,
        REQ_NAME,
        &[f("name", Gen::Title), f("tree_type", Gen::Int(0, 2))]
    ),
    // timetracker
    model!(
        "timetracker",
        "timesheets",
        Dated,
        &["module", "model", "model_id"],
        &[
            b("description", Gen::Text, 40),
            f(
                "module",
                Gen::EntityModule(&[("task", "task"), ("st", "project")])
            ),
            f("model", Gen::EntityModel(&[("task", "task"), ("st", "project")])),
            f("model_id", Gen::Int(1, 200)),
            b("parent_sheet_id", Gen::Fk("timetracker/timesheets"), 80),
            b("invoice_id", Gen::Fk("fin/invoice"), 70),
            f("currency_id", Gen::Int(1, 4)),
            f("time_estimate", Gen::Int(0, 144_000)),
            f("time_spent", Gen::Int(0, 144_000)),
            f("aggregated_time_estimate", Gen::Int(0, 144_000)),
            f("bill_time", Gen::Int(0, 144_000)),
            f("bill_time_estimate", Gen::Int(0, 144_000)),
            f("unbill_time", Gen::Int(0, 144_000)),
            f("unbill_time_estimate", Gen::Int(0, 144_000)),
            f("bill_time_type", Gen::Pick(&["task", "user", "project"])),
            f("cost_time_type", Gen::Pick(&["task", "user"])),
            f("billing_status", Gen::Int(0, 2)),
            f("is_billable", Gen::Bool),
            f("is_billable_employee", Gen::Bool),
            f("rate", Gen::Money),
            f("billing_rate", Gen::Money),
            f("employee_cost_rate", Gen::Money),
            f("amount_timeestimate", Gen::Money),
            f("amount_timespent", Gen::Money),
            f("bill_amount_timeestimate", Gen::Money),
            f("bill_amount_timespent", Gen::Money),
            f("bill_cost_timeestimate", Gen::Money),
            f("bill_cost_timespent", Gen::Money),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "timetracker",
        "timelogs",
        Dated,
        &["user_id"],
        &[
            f("user_id", Gen::Fk("core/user")),
            f("timesheet_id", Gen::Fk("timetracker/timesheets")),
            f(
                "module",
                Gen::EntityModule(&[("task", "task"), ("st", "project")])
            ),
            f("model", Gen::EntityModel(&[("task", "task"), ("st", "project")])),
            f("model_id", Gen::Int(1, 200)),
            b("description", Gen::Text, 50),
            f("start_date", Gen::DateTime),
            b("end_date", Gen::DateTime, 10),
            f("time_spent", Gen::Int(60, 28_800)),
        ]
    ),
    // products
    model!(
        "products",
        "product",
        Products,
        REQ_NAME,
        &[
            f("type", Gen::Int(1, 2)),
            f("name", Gen::Title),
            b("description", Gen::Text, 40),
            b("full_description", Gen::Text, 60),
            f("active", Gen::Bool),
            b("article", Gen::Code("ART"), 40),
            b("code", Gen::Code("SKU"), 20),
            b("code_ean", Gen::Code("EAN"), 70),
            b("code_isbn", Gen::Code("ISBN"), 90),
            b("code_mpn", Gen::Code("MPN"), 80),
            b("code_upc", Gen::Code("UPC"), 80),
            b("category_id", Gen::Fk("products/category"), 20),
            b("manufacturer_id", Gen::Fk("products/manufacturer"), 40),
            b("unit_id", Gen::Int(1, 10), 30),
            b("uom_id", Gen::Int(1, 10), 50),
            f("pricelist_price_1", Gen::Amount),
            f("pricelist_currency_1", Gen::Pick(CODES)),
            f("tax", Gen::Money),
            b("tax_desc", Gen::Pick(&["VAT", "Sales tax"]), 40),
            f("tax_included", Gen::Bool),
            f("taxable", Gen::Bool),
            f("online_payment_type", Gen::Int(0, 7)),
            f("online_payment_subject_type", Gen::Int(0, 13)),
            f("online_payment_vat", Gen::Int(0, 6)),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "products",
        "category",
        Products,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 60),
            f("active", Gen::Bool),
            b("parent_id", Gen::Fk("products/category"), 60),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "products",
        "pricelist",
        Products,
        REQ_NAME,
        &[
            f("type", Gen::Int(1, 2)),
            f("name", Gen::Title),
            b("description", Gen::Text, 60),
            f("active", Gen::Bool),
            f("default", Gen::Bool),
            f("ordering", Gen::Int(1, 100)),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    model!(
        "products",
        "manufacturer",
        Products,
        REQ_NAME,
        &[
            f("name", Gen::Company),
            b("description", Gen::Text, 60),
            f("active", Gen::Bool),
            b("crm_company_id", Gen::Fk("crm/account"), 50),
            f("currency_id", Gen::Int(1, 4)),
            b("ref", Gen::Pick(&["import", "api"]), 70),
            b("ref_id", Gen::Code("REF"), 70),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    // calendar
    model!(
        "calendar",
        "calendar",
        Dated,
        REQ_NAME,
        &[
            f("type", Gen::Int(1, 3)),
            f("name", Gen::Title),
            b("description", Gen::Text, 40),
            f("color", Gen::Pick(COLORS)),
            f("timezone", Gen::Pick(TZ)),
            f("sync_type", Gen::Int(0, 2)),
            b("etag", Gen::Code("ETAG"), 60),
            f("uuid", Gen::Code("UUID")),
            f("created_by", Gen::Fk("core/user")),
            b("updated_by", Gen::Fk("core/user"), 30),
        ]
    ),
    // customfields: `fields` rows are generated by `custom_field_row`, not from these specs.
    model!(
        "customfields",
        "fields",
        None,
        &["name", "type", "module", "model"],
        &[
            f("name", Gen::Title),
            f("type", Gen::Pick(CUSTOM_FIELD_TYPES)),
            f("module", Gen::Title),
            f("model", Gen::Title),
            f("alias", Gen::Title),
            f("api_use_alias", Gen::Bool),
            f("fieldset_id", Gen::Int(1, 20)),
            f("required", Gen::Bool),
            f("ordering", Gen::Int(1, 100)),
            f("hidden_detail", Gen::Bool),
        ]
    ),
    model!(
        "customfields",
        "fieldsets",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("module", Gen::Pick(&["crm", "task", "st", "fin", "agile"])),
            f(
                "model",
                Gen::Pick(&["account", "lead", "task", "project", "invoice", "issue"])
            ),
            b("group_id", Gen::Int(1, 5), 60),
            b("group_field", Gen::Pick(&["type"]), 60),
        ]
    ),
    // core
    model!(
        "core",
        "user",
        User,
        &["username"],
        &[
            f("name", Gen::Person),
            f("first_name", Gen::FirstName),
            f("last_name", Gen::LastName),
            f("username", Gen::Email),
            b("position", Gen::Title, 30),
            f("timezone", Gen::Pick(TZ)),
            f("role_admin", Gen::Bool),
            f("role_login", Gen::Bool),
        ]
    ),
];

/// The model `module/model`, if the API has it.
pub(crate) fn find(module: &str, model: &str) -> Option<&'static ModelDef> {
    MODELS.iter().find(|m| m.module == module && m.model == model)
}

/// True when some model lives in `module`.
pub(crate) fn has_module(module: &str) -> bool {
    MODELS.iter().any(|m| m.module == module)
}

/// Default record count of a model when the config has no override for it.
pub(crate) fn default_count(def: &ModelDef, records_per_model: usize) -> usize {
    match (def.module, def.model) {
        ("customfields", "fields") => 30,
        ("customfields", "fieldsets") => 12,
        _ => records_per_model,
    }
}
