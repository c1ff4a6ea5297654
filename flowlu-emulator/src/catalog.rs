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
    /// `created` and `updated` (products).
    Products,
    /// `created_date` and `last_active` as Unix seconds (core/user).
    User,
    /// None.
    None,
}

impl Stamps {
    /// The column bumped on every write, if any.
    pub(crate) fn updated_column(self) -> Option<&'static str> {
        match self {
            Stamps::Dated => Some("updated_date"),
            Stamps::Products => Some("updated"),
            Stamps::User => Some("last_active"),
            Stamps::None => None,
        }
    }

    /// The column set once at creation, if any.
    pub(crate) fn created_column(self) -> Option<&'static str> {
        match self {
            Stamps::Dated | Stamps::User => Some("created_date"),
            Stamps::Products => Some("created"),
            Stamps::None => None,
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

const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "RUB"];
const COLORS: &[&str] = &["#3f8ae0", "#e64646", "#4bb34b", "#f5a623", "#9b59b6"];
const NAME: &[Field] = &[f("name", Gen::Title)];
const NAME_SORT: &[Field] = &[f("name", Gen::Title), f("sort", Gen::Int(1, 100))];
const REQ_NAME: &[&str] = &["name"];

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

/// Models that carry `cf_<id>` columns; custom field `i` (1-based) belongs to
/// `CUSTOM_FIELD_MODELS[(i - 1) % len]`.
pub(crate) const CUSTOM_FIELD_MODELS: &[&str] = &[
    "crm/account",
    "crm/lead",
    "task/tasks",
    "st/projects",
    "fin/invoice",
    "agile/issues",
];

/// Types of custom fields; custom field `i` has type `CUSTOM_FIELD_TYPES[(i - 1) / 6 % 5]`.
pub(crate) const CUSTOM_FIELD_TYPES: &[&str] = &["text", "number", "date", "select", "checkbox"];

/// Every model of the Flowlu API description.
pub(crate) static MODELS: &[ModelDef] = &[
    // crm
    model!(
        "crm",
        "account",
        Dated,
        REQ_NAME,
        &[
            f("type", Gen::Int(1, 2)),
            f("name", Gen::Company),
            b("first_name", Gen::FirstName, 40),
            b("last_name", Gen::LastName, 40),
            f("owner_id", Gen::Fk("core/user")),
            b("email", Gen::Email, 15),
            b("phone", Gen::Phone, 25),
            b("website", Gen::Url, 50),
            b("VAT", Gen::Code("VAT"), 30),
            b("account_category_id", Gen::Fk("crm/account_category"), 20),
            b("industry_id", Gen::FkStr("crm/industry"), 20),
            b("honorific_title_id", Gen::Fk("crm/honorific_title"), 50),
            b("description", Gen::Text, 30),
            b("birthday", Gen::Date, 60),
            f("active", Gen::Bool),
        ]
    ),
    model!(
        "crm",
        "lead",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("pipeline_id", Gen::FkStr("crm/pipeline")),
            f("pipeline_stage_id", Gen::Fk("crm/pipeline_stage")),
            b("source_id", Gen::Fk("crm/source"), 20),
            b("account_id", Gen::Fk("crm/account"), 10),
            b("contact_id", Gen::Fk("crm/account"), 40),
            f("owner_id", Gen::Fk("core/user")),
            b("budget", Gen::Amount, 20),
            b("description", Gen::Text, 30),
            b("start_date", Gen::Date, 10),
            b("deadline", Gen::Date, 40),
            b("closed_date", Gen::Date, 70),
            b("loss_reason_id", Gen::Fk("crm/loss_reason"), 80),
            f("active", Gen::Bool),
        ]
    ),
    model!(
        "crm",
        "pipeline",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("active", Gen::Bool),
            f("is_default", Gen::Bool),
            f("sort", Gen::Int(1, 100)),
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
            f("sort", Gen::Int(1, 100)),
            f("probability", Gen::Int(0, 100)),
            f("color", Gen::Pick(COLORS)),
        ]
    ),
    model!(
        "crm",
        "source",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("active", Gen::Bool),
            f("sort", Gen::Int(1, 100)),
        ]
    ),
    model!("crm", "loss_reason", None, REQ_NAME, NAME_SORT),
    model!(
        "crm",
        "emails",
        None,
        &["email"],
        &[
            f("account_id", Gen::Fk("crm/account")),
            f("email", Gen::Email),
            f("is_primary", Gen::Bool),
            f("type", Gen::Pick(&["work", "personal", "other"])),
        ]
    ),
    model!(
        "crm",
        "account_category",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("sort", Gen::Int(1, 100)),
            f("color", Gen::Pick(COLORS)),
        ]
    ),
    model!("crm", "industry", None, REQ_NAME, NAME_SORT),
    model!("crm", "honorific_title", None, REQ_NAME, NAME_SORT),
    // task
    model!(
        "task",
        "tasks",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 30),
            f("owner_id", Gen::Fk("core/user")),
            b("responsible_id", Gen::FkStr("core/user"), 10),
            f("workflow_id", Gen::Fk("task/workflows")),
            f("stage_id", Gen::Fk("task/stages")),
            b("list_id", Gen::Fk("task/lists"), 30),
            b("project_id", Gen::Fk("st/projects"), 40),
            b("crm_account_id", Gen::Fk("crm/account"), 50),
            f("priority", Gen::Int(1, 3)),
            b("start_date", Gen::Date, 20),
            b("deadline", Gen::Date, 30),
            f("plan_time", Gen::Int(0, 40)),
            f("is_completed", Gen::Bool),
        ]
    ),
    model!(
        "task",
        "taskslists",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("list_id", Gen::Fk("task/lists"), 20),
            f("sort", Gen::Int(1, 100)),
        ]
    ),
    model!(
        "task",
        "lists",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("owner_id", Gen::Fk("core/user")),
            f("sort", Gen::Int(1, 100)),
        ]
    ),
    model!(
        "task",
        "workflows",
        Dated,
        REQ_NAME,
        &[f("name", Gen::Title), f("is_default", Gen::Bool),]
    ),
    model!(
        "task",
        "stages",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("workflow_id", Gen::Fk("task/workflows")),
            f("sort", Gen::Int(1, 100)),
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
            b("project_type_id", Gen::Fk("st/project_types"), 20),
            b("portfolio_id", Gen::Fk("st/portfolio"), 40),
            f("stage_id", Gen::FkStr("st/stages")),
            b("account_id", Gen::Fk("crm/account"), 30),
            b("start_date", Gen::Date, 10),
            b("deadline", Gen::Date, 30),
            b("budget", Gen::Amount, 30),
            f("status", Gen::Int(1, 3)),
            f("is_archive", Gen::Bool),
        ]
    ),
    model!(
        "st",
        "stages",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("sort", Gen::Int(1, 100)),
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
        ]
    ),
    model!("st", "project_types", None, REQ_NAME, NAME_SORT),
    model!(
        "st",
        "portfolio",
        None,
        REQ_NAME,
        &[f("name", Gen::Title), b("description", Gen::Text, 40),]
    ),
    // fin
    model!(
        "fin",
        "invoice",
        Dated,
        &["account_id"],
        &[
            f("number", Gen::Code("INV")),
            f("organization_id", Gen::Fk("fin/organization")),
            f("account_id", Gen::Fk("crm/account")),
            b("contact_id", Gen::Fk("crm/account"), 50),
            f("invoice_date", Gen::Date),
            b("due_date", Gen::Date, 20),
            f("total", Gen::Amount),
            f("paid", Gen::Amount),
            f("currency", Gen::Pick(CURRENCIES)),
            f("status", Gen::Int(1, 4)),
            f("is_sent", Gen::Bool),
            b("comment", Gen::Text, 60),
        ]
    ),
    model!(
        "fin",
        "invoice_item",
        None,
        &["invoice_id", "name"],
        &[
            f("invoice_id", Gen::Fk("fin/invoice")),
            f("name", Gen::Title),
            b("product_id", Gen::Fk("products/product"), 30),
            f("quantity", Gen::Int(1, 20)),
            f("price", Gen::Amount),
            f("tax", Gen::Pick(&["0", "10", "20"])),
        ]
    ),
    model!(
        "fin",
        "invoice_contacts",
        None,
        &["invoice_id", "contact_id"],
        &[
            f("invoice_id", Gen::Fk("fin/invoice")),
            f("contact_id", Gen::Fk("crm/account")),
        ]
    ),
    model!(
        "fin",
        "estimate",
        Dated,
        &["account_id"],
        &[
            f("number", Gen::Code("EST")),
            f("account_id", Gen::Fk("crm/account")),
            f("estimate_date", Gen::Date),
            f("total", Gen::Amount),
            f("currency", Gen::Pick(CURRENCIES)),
            f("status", Gen::Int(1, 3)),
        ]
    ),
    model!(
        "fin",
        "customer_payment",
        Dated,
        &["amount"],
        &[
            b("invoice_id", Gen::Fk("fin/invoice"), 20),
            f("account_id", Gen::Fk("crm/account")),
            f("amount", Gen::Amount),
            f("payment_date", Gen::Date),
            f("bank_account_id", Gen::Fk("fin/bank_account")),
            b("comment", Gen::Text, 60),
        ]
    ),
    model!(
        "fin",
        "transaction",
        Dated,
        &["amount"],
        &[
            f("name", Gen::Title),
            f("bank_account_id", Gen::Fk("fin/bank_account")),
            f("amount", Gen::Money),
            f("type", Gen::Int(1, 2)),
            f("transaction_date", Gen::Date),
            b("account_id", Gen::Fk("crm/account"), 40),
            b("comment", Gen::Text, 60),
        ]
    ),
    model!(
        "fin",
        "bank_account",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("organization_id", Gen::Fk("fin/organization")),
            f("currency", Gen::Pick(CURRENCIES)),
            f("balance", Gen::Money),
            b("account_number", Gen::Code("ACC"), 20),
        ]
    ),
    model!(
        "fin",
        "organization",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Company),
            b("inn", Gen::Code("INN"), 30),
            b("address", Gen::Text, 30),
            f("is_default", Gen::Bool),
        ]
    ),
    // agile
    model!(
        "agile",
        "issues",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 30),
            f("project_id", Gen::Fk("st/projects")),
            b("sprint_id", Gen::Fk("agile/sprints"), 30),
            b("epic_id", Gen::Fk("agile/epics"), 50),
            f("stage_id", Gen::Fk("agile/stages")),
            f("type_id", Gen::Fk("agile/issue_type")),
            b("category_id", Gen::Fk("agile/categories"), 40),
            f("owner_id", Gen::Fk("core/user")),
            b("assignee_id", Gen::FkStr("core/user"), 20),
            f("priority", Gen::Int(1, 5)),
            f("story_points", Gen::Int(0, 13)),
            b("deadline", Gen::Date, 50),
        ]
    ),
    model!(
        "agile",
        "sprints",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("project_id", Gen::Fk("st/projects")),
            f("start_date", Gen::Date),
            f("end_date", Gen::Date),
            f("status", Gen::Int(1, 3)),
        ]
    ),
    model!(
        "agile",
        "stages",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("workflow_id", Gen::Fk("agile/workflows")),
            f("sort", Gen::Int(1, 100)),
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
            f("project_id", Gen::Fk("st/projects")),
            f("color", Gen::Pick(COLORS)),
        ]
    ),
    model!("agile", "workflows", Dated, REQ_NAME, NAME),
    model!(
        "agile",
        "categories",
        Dated,
        REQ_NAME,
        &[f("name", Gen::Title), f("color", Gen::Pick(COLORS)),]
    ),
    model!(
        "agile",
        "issue_type",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("icon", Gen::Pick(&["bug", "story", "task", "epic"])),
        ]
    ),
    model!("agile", "issue_relation_types", Dated, REQ_NAME, NAME),
    model!(
        "agile",
        "issue_relation_names",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("relation_type_id", Gen::Fk("agile/issue_relation_types")),
            f("direction", Gen::Pick(&["inward", "outward"])),
        ]
    ),
    // timetracker
    model!(
        "timetracker",
        "timesheets",
        Dated,
        &["user_id"],
        &[
            f("user_id", Gen::Fk("core/user")),
            f("date", Gen::Date),
            f("total_minutes", Gen::Int(0, 600)),
            f("status", Gen::Int(1, 3)),
        ]
    ),
    model!(
        "timetracker",
        "timelogs",
        Dated,
        &["user_id", "minutes"],
        &[
            f("timesheet_id", Gen::Fk("timetracker/timesheets")),
            f("user_id", Gen::Fk("core/user")),
            b("task_id", Gen::Fk("task/tasks"), 20),
            b("project_id", Gen::Fk("st/projects"), 30),
            f("date", Gen::Date),
            f("minutes", Gen::Int(5, 480)),
            f("billable", Gen::Bool),
            b("comment", Gen::Text, 50),
        ]
    ),
    // products
    model!(
        "products",
        "product",
        Products,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("sku", Gen::Code("SKU")),
            b("category_id", Gen::Fk("products/category"), 20),
            b("manufacturer_id", Gen::Fk("products/manufacturer"), 40),
            f("price", Gen::Money),
            b("cost", Gen::Amount, 30),
            f("currency", Gen::Pick(CURRENCIES)),
            f("unit", Gen::Pick(&["pcs", "h", "kg", "m"])),
            f("active", Gen::Bool),
            b("description", Gen::Text, 40),
        ]
    ),
    model!(
        "products",
        "category",
        Products,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("parent_id", Gen::Fk("products/category"), 60),
            f("sort", Gen::Int(1, 100)),
        ]
    ),
    model!(
        "products",
        "pricelist",
        Products,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("currency", Gen::Pick(CURRENCIES)),
            f("is_default", Gen::Bool),
        ]
    ),
    model!(
        "products",
        "manufacturer",
        Products,
        REQ_NAME,
        &[
            f("name", Gen::Company),
            b("country", Gen::Pick(&["US", "DE", "GB", "FR", "JP"]), 20),
        ]
    ),
    // calendar
    model!(
        "calendar",
        "calendar",
        Dated,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            b("description", Gen::Text, 40),
            f("start_date", Gen::DateTime),
            f("end_date", Gen::DateTime),
            f("all_day", Gen::Bool),
            f("owner_id", Gen::Fk("core/user")),
            b("account_id", Gen::Fk("crm/account"), 50),
            b("location", Gen::Text, 60),
        ]
    ),
    // customfields: `fields` rows are generated by `custom_field_row`, not from these specs.
    model!(
        "customfields",
        "fields",
        None,
        REQ_NAME,
        &[
            f("name", Gen::Title),
            f("type", Gen::Pick(CUSTOM_FIELD_TYPES)),
            f("module", Gen::Title),
            f("model", Gen::Title),
            b("fieldset_id", Gen::Fk("customfields/fieldsets"), 30),
            f("required", Gen::Bool),
            f("sort", Gen::Int(1, 100)),
            f("options", Gen::Text),
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
            f("sort", Gen::Int(1, 100)),
        ]
    ),
    // core
    model!(
        "core",
        "user",
        User,
        REQ_NAME,
        &[
            f("name", Gen::Person),
            f("first_name", Gen::FirstName),
            f("last_name", Gen::LastName),
            f("email", Gen::Email),
            b("phone", Gen::Phone, 30),
            b("position", Gen::Title, 30),
            f(
                "timezone",
                Gen::Pick(&["Europe/London", "America/New_York", "Europe/Berlin"])
            ),
            f("active", Gen::Bool),
            f("is_admin", Gen::Bool),
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
        ("customfields", "fields") => 12,
        ("customfields", "fieldsets") => 4,
        _ => records_per_model,
    }
}
