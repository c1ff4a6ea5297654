//! The JSON Schema of each stream: every standard field of each model, named and typed as
//! Flowlu sends it.
//!
//! The fields and their JSON types come from public material (the schemas of Airbyte's
//! declarative Flowlu source, imported from real responses, the output schemas of Activepieces'
//! Flowlu piece, and the facts gathered in docs/flowlu-api.md): ids and foreign keys are
//! integers, money is a number, flags are 0/1 integers. Every date is declared with its
//! format: dates `date`, dates and times `date-time` / `timestamp_without_timezone` (naive,
//! in the portal's time zone). Flowlu sends a date that is not set as `""` or as a zero date
//! (`0000-00-00[ 00:00:00]`); the source passes those on as `null`, which is what they mean
//! (see [`crate::source`]'s record shaping). Every field but `id` may be `null`. Fields public
//! responses show in two types (`task_tasks.is_archive`, `fin_invoice_contacts.contact_id`,
//! `fin_invoice_item.discount`) are declared in one, and their values normalised to it. A
//! value that fits no declared type is `null` in its column and kept as sent in
//! [`RAW_VALUES`]. Unknown columns still pass (`additionalProperties: true`). `discover` adds
//! the account's custom fields ([`CustomField`]), named and typed (see [`crate::base::columns`]).

use serde_json::{json, Map, Value};

use crate::base::columns::{Mapping, Names, Naming, Part, FIELD_KEYWORD};
use crate::base::streams::{Model, MODELS};

/// The column holding, by field, the values as Flowlu sent them that fit no declared type
/// (a date that is no date, text in a number field): their own column is `null`; and the
/// cursor Flowlu sent of a record a reconciliation sends again (see `source::deletes`).
pub(crate) const RAW_VALUES: &str = "_flowlu_raw_values";

/// Every standard field of every model as `name:type` pairs, in Flowlu's names. Types: `i`
/// integer (ids, foreign keys, counts, enumerations), `n` number (money, rates, quantities),
/// `b` 0/1 integer, `s` text, `t` date and time, `d` date, `u` Unix seconds, `is` integer or
/// string, `ns` number or string (the two unions only where public responses show both).
const FIELDS: &[(&str, &str)] = &[
    (
        "crm_account",
        "type:i name:s first_name:s middle_name:s last_name:s honorific_title_id:i owner_id:i \
         active:b account_category_id:i industry_id:i description:s email:s email_personal:s \
         phone:s phone2:s phone3:s web:s skype:s telegram:s timezone:s VAT:s VAT1:s VAT2:s \
         address:s address_legal:s bank_details:s name_legal:s name_legal_full:s \
         billing_address_line_1:s billing_address_line_2:s billing_address_line_3:s billing_city:s \
         billing_country:s billing_state:s billing_zip:s shipping_address_line_1:s \
         shipping_address_line_2:s shipping_address_line_3:s shipping_city:s shipping_country:s \
         shipping_state:s shipping_zip:s link_facebook:s link_google:s link_instagram:s \
         link_linkedin:s link_vk:s social_network_link_1:s social_network_link_2:s \
         social_network_link_3:s social_network_link_4:s social_network_link_5:s \
         social_network_link_6:s organization_employee_count:i organization_expenses:n \
         organization_revenue:n organization_registration_date:d guid_1c:s merged_to:i \
         last_activity_id:i last_activity_model:s last_activity_time:t ref:s ref_id:i \
         extra_fields:s created_date:t updated_date:t",
    ),
    (
        "crm_lead",
        "name:s description:s active:i pipeline_id:i pipeline_stage_id:i source_id:i \
         assignee_id:i customer_id:i contact_id:i created_by:i budget:n adjustment:n \
         adjustment_description:s shipping_charge:n auto_calc:s pricelist_id:i start_date:d \
         deadline:d closing_date:d closing_status_id:i closing_comment:s contact_company:s \
         contact_name:s contact_position:s contact_email:s contact_phone:s contact_mobile:s \
         contact_web:s merged_to_id:i ordering:i last_activity_id:i last_activity_model:s \
         last_activity_time:t ref:s ref_id:i extra_fields:s created_date:t updated_date:t",
    ),
    ("crm_pipeline", "name:s description:s ordering:i type_access:s"),
    (
        "crm_pipeline_stage",
        "name:s pipeline_id:i ordering:i probability:i color:s created_date:t updated_date:t",
    ),
    (
        "crm_source",
        "name:s active:b ordering:i created_date:t updated_date:t",
    ),
    ("crm_loss_reason", "name:s active:b ordering:i"),
    ("crm_emails", "account_id:i email:s type:i comment:s"),
    ("crm_account_category", "name:s active:b ordering:i"),
    ("crm_industry", "name:s active:b ordering:i"),
    ("crm_honorific_title", "name:s ordering:i"),
    ("crm_lead_accounts", "lead_id:i account_id:i account_type:i"),
    (
        "task_tasks",
        "name:s description:s type:i status:i priority:i owner_id:i responsible_id:i \
         crm_account_id:i parent_id:i prev_task_id:i template_id:i workflow_id:i \
         workflow_stage_id:i project_stage_id:i project_checkitem_id:i module:s model:s \
         model_id:i start_date:t deadline:t deadline_allowchange:b plan_start_date:t \
         plan_end_date:t all_day:b time_estimate:i time_spent:i cost:n cost_type:s price:n \
         price_type:s rating:n report:s report_complete:s return_count:i task_checkbyowner:b \
         is_archive:is archive_status:i is_hidden:b is_repeat:b public_template:b ordering:i \
         closed_by:i closed_date:t first_closed_date:t status_firstviewdate:t \
         status_updated_by:i status_updated_date:t event_type:i event_access_type:i \
         event_busy_status:i event_calendar_id:i event_color:s event_etag:s event_location:s \
         event_sync_type:i uuid:s ref:s ref_id:s extra_fields:s updated_by:i created_date:t \
         updated_date:t",
    ),
    (
        "task_taskslists",
        "list_id:i task_id:i created_by:i updated_by:i created_date:t updated_date:t",
    ),
    (
        "task_lists",
        "name:s active:b color:s icon:s ordering:i user_id:i created_by:i updated_by:i \
         created_date:t updated_date:t",
    ),
    (
        "task_workflows",
        "name:s description:s active:b ordering:i created_by:i updated_by:i updated_date:t",
    ),
    ("task_stages", "name:s workflow_id:i ordering:i color:s"),
    (
        "st_projects",
        "name:s description:s manager_id:i customer_id:i customer_crm_contact_id:i crm_lead_id:i \
         briefcase_id:i project_type_id:i stage_id:i tasks_workflow_id:i workspace_id:i \
         priority:i ordering:i startdate:d enddate:d estimated_revenue:n estimated_expenses:n \
         billing_type:i bill_taxes:b default_bill_time_type:s default_billing_rate:n \
         default_employee_cost_rate:n default_invoice_item_format:s \
         default_invoice_split_type_in_project:i use_default_invoice_split_type:b \
         default_only_completed_task:s default_time_cost_type:s is_archive:b archive_date:t \
         archive_description:s uuid:s ref:s ref_id:s extra_fields:s created_by:i updated_by:i \
         created_date:t updated_date:t",
    ),
    ("st_stages", "name:s ordering:i color:s"),
    ("st_project_observers", "project_id:i user_id:i role:i"),
    ("st_project_types", "name:s ordering:i"),
    ("st_portfolio", "name:s description:s ordering:i"),
    (
        "fin_invoice",
        "type:i invoice_number:i invoice_number_print:s reference:s status_id:i org_id:i \
         org_account_id:i customer_id:i customer_name:s customer_legal_name:s assignee_id:i \
         category_id:i group_id:i estimate_id:i template_id:i template_name:s \
         recurring_invoice_id:i pricelist_id:i currency_id:i currency_code:s ps_currency_id:i \
         pm_currency_id:i invoice_date:d due_date:d paid_date:d sub_total:n tax1:n \
         tax1_included:b tax2:n tax2_included:b tax_total:n discount:n discount_before_tax:b \
         is_discount_percent:b adjustment:n adjustment_description:s shipping_charge:n total:n \
         bcy_paid_total:n pscy_paid_total:n plan_money_id:i plan_money_total:n \
         use_multiple_pm:b paymethod_id:i payment_options:s bank:s bank_id:i \
         bill_from_address:s bill_from_city:s bill_from_state:s bill_from_zip:s \
         bill_from_country_id:i bill_to_address:s bill_to_city:s bill_to_state:s bill_to_zip:s \
         bill_to_country_id:i company_phone:s company_phone2:s company_vat:s company_vat2:s \
         contact_person:s contact_person_position:s contact_person2:s \
         contact_person2_position:s org_phone:s org_phone2:s org_vat:s org_vat2:s note:s \
         invoice_footer_text:s invoice_terms_text:s is_invoice_emailed:b \
         invoice_emailed_date:t is_reminder_sent:b reminders_sent_date:t is_template:b \
         show_add_sign_string:b exported_1c:b module:s model:s model_id:i uuid:s ref:s \
         ref_id:s created_by:i updated_by:i created_date:t updated_date:t",
    ),
    (
        "fin_invoice_item",
        "invoice_id:i item_id:i type:i name:s description:s quantity:n unit_id:i unit_price:n \
         discount:ns discount_amount:n discount_is_percent:b sub_total:n tax1:n tax1_amount:n \
         tax1_included:b tax2:n tax2_amount:n tax2_included:b tax_displayed:s tax_total:n \
         total:n paid_total:n bcy_paid_total:n paid_date:d plan_money_id:i plan_money_total:n \
         online_payment_type:i online_payment_subject_type:i online_payment_vat:i ordering:i \
         ref:s ref_id:s",
    ),
    (
        "fin_invoice_contacts",
        "invoice_id:i contact_id:is email_id:i is_primary:b invoice_emailed:b \
         invoice_emailed_date:t reminders_sent:i reminders_sent_date:t",
    ),
    (
        "fin_estimate",
        "type:i estimate_number:i estimate_number_print:s reference_number:s status_id:i \
         active:b org_id:i customer_id:i customer_name:s customer_legal_name:s assignee_id:i \
         group_id:i template_id:i pricelist_id:i currency_id:i currency_code:s exchange_rate:n \
         invoice_date:d expire_date:d sub_total:n tax1:n tax1_included:b tax2:n tax2_included:b \
         tax_total:n discount:n discount_before_tax:b is_discount_percent:b adjustment:n \
         adjustment_description:s shipping_charge:n total:n bill_from_address:s \
         bill_from_city:s bill_from_state:s bill_from_zip:s bill_from_country_id:i \
         bill_to_address:s bill_to_city:s bill_to_state:s bill_to_zip:s bill_to_country_id:i \
         company_phone:s company_phone2:s company_vat:s company_vat2:s contact_person:s \
         contact_person_position:s org_phone:s org_phone2:s org_vat:s org_vat2:s \
         estimate_footer_text:s estimate_terms_text:s estimate_emailed_date:t module:s model:s \
         model_id:i uuid:s ref:s ref_id:s created_by:i updated_by:i updated_date:t",
    ),
    (
        "fin_customer_payment",
        "type:i name:s description:s status:i status_pls:i total:n charge:n currency_id:i \
         bank_account_id:i org_id:i crm_company_id:i project_id:i project_stage_id:i owner_id:i \
         date:d startdate:d enddate:d complete_date:t is_complete:b is_manual:b is_owed:b \
         need_approve:b ordering:i reference:s uuid:s ref:s ref_id:s ref_uuid:s created_by:i \
         updated_by:i created_date:t updated_date:t",
    ),
    (
        "fin_transaction",
        "type:i name:s description:s status:i date:d income:n outcome:n charge:n bcy_income:n \
         bcy_outcome:n bcy_charge:n currency_id:i currency_exchange_rate:n org_id:i \
         org_account_id:i crm_account_id:i project_id:i invoice_id:i category_id:i \
         business_line_id:i manager_id:i is_charge:b is_generated:b is_storno:b plan_money_id:i \
         plan_money_total:n pm_currency_id:i store_doc_id:i store_doc_currency_id:i \
         store_doc_total:n reference:s reference_id:i ordering:i uuid:s ref:s ref_id:i \
         ref_uuid:s created_by:i updated_by:i created_date:t updated_date:t",
    ),
    (
        "fin_bank_account",
        "type:i name:s active:b org_id:i manager_id:i account_group_id:i currency_id:i \
         currency_exchange_rate:n bcy_balance:n pls_bcy_balance:n excluded_balance:n \
         fixed_balance:n fixed_balance_date:t pls_fixed_balance:n pls_fixed_balance_date:t \
         closed_at:t ordering:i ordering_by_group:i ref:s ref_id:s",
    ),
    (
        "fin_organization",
        "name:s name_legal:s address:s phone:s email:s vat:s currency_id:i is_default:b",
    ),
    (
        "agile_projects",
        "name:s description:s owner_id:i workflow_id:i created_date:t updated_date:t",
    ),
    (
        "agile_issues",
        "name:s description:s number:i number_label:s project_id:i sprint_id:i epic_id:i \
         type_id:i category_id:i workflow_stage_id:i parent_issue_id:i assignee_id:i \
         creator_id:i priority:i estimate:n effort:n value:s ordering:i is_archived:b \
         archived_date:t completed_date:t ref:s ref_id:s created_date:t updated_date:t",
    ),
    (
        "agile_sprints",
        "name:s description:s project_id:i active:b started:b start_date:d deadline:d \
         standup_time:s changelog:s created_date:t updated_date:t",
    ),
    (
        "agile_stages",
        "name:s description:s workflow_id:i status:i color:s ordering:i created_date:t \
         updated_date:t",
    ),
    (
        "agile_epics",
        "name:s description:s project_id:i is_completed:b start_date:d end_date:d ordering:i \
         created_by:i updated_by:i created_date:t updated_date:t",
    ),
    (
        "agile_workflows",
        "name:s description:s created_date:t updated_date:t",
    ),
    (
        "agile_categories",
        "name:s description:s project_id:i parent_id:i assignee_id:i color:s ordering:i \
         created_date:t updated_date:t",
    ),
    (
        "agile_issue_type",
        "name:s description:s type:i icon:s color:s is_default:b ordering:i created_date:t \
         updated_date:t",
    ),
    (
        "agile_issue_relation_types",
        "name:s parent_relation_name_id:i child_relation_name_id:i created_date:t updated_date:t",
    ),
    (
        "agile_issue_relation_names",
        "name:s tree_type:i created_date:t updated_date:t",
    ),
    (
        "timetracker_timesheets",
        "description:s module:s model:s model_id:i parent_sheet_id:i invoice_id:i currency_id:i \
         time_estimate:i time_spent:i aggregated_time_estimate:i bill_time:i \
         bill_time_estimate:i unbill_time:i unbill_time_estimate:i bill_time_type:s \
         cost_time_type:s billing_status:i is_billable:b is_billable_employee:b rate:n \
         billing_rate:n employee_cost_rate:n amount_timeestimate:n amount_timespent:n \
         bill_amount_timeestimate:n bill_amount_timespent:n bill_cost_timeestimate:n \
         bill_cost_timespent:n created_by:i updated_by:i created_date:t updated_date:t",
    ),
    (
        "timetracker_timelogs",
        "user_id:i timesheet_id:i module:s model:s model_id:i description:s start_date:t \
         end_date:t time_spent:i created_date:t updated_date:t",
    ),
    (
        "products_product",
        "type:i name:s description:s full_description:s active:b article:s code:s code_ean:s \
         code_isbn:s code_mpn:s code_upc:s category_id:i manufacturer_id:i unit_id:i uom_id:i \
         pricelist_price_1:s pricelist_currency_1:s tax:n tax_desc:s tax_included:b taxable:b \
         online_payment_type:i online_payment_subject_type:i online_payment_vat:i ref:s \
         ref_id:s created_by:i updated_by:i created:t updated:t",
    ),
    (
        "products_category",
        "name:s description:s active:b parent_id:i ref:s ref_id:s created_by:i updated_by:i \
         created:t updated:t",
    ),
    (
        "products_pricelist",
        "type:i name:s description:s active:b default:b ordering:i ref:s ref_id:s created_by:i \
         updated_by:i created:t updated:t",
    ),
    (
        "products_manufacturer",
        "name:s description:s active:b crm_company_id:i currency_id:i ref:s ref_id:s \
         created_by:i updated_by:i created:t updated:t",
    ),
    (
        "calendar_calendar",
        "type:i name:s description:s color:s timezone:s sync_type:i etag:s uuid:s created_by:i \
         updated_by:i created_date:t updated_date:t",
    ),
    (
        "customfields_fields",
        "name:s type:s module:s model:s alias:s api_use_alias:b webhook_use_alias:b \
         fieldset_id:i group_id:i group_label_field_id:i parent_id:i cache_parent_id:i \
         cache_value:s scope_id:i formula:s hint:s required:b active:b hidden_detail:b \
         show_on_detail_page:b show_in_mobile:b ordering:i",
    ),
    (
        "customfields_fieldsets",
        "name:s module:s model:s group_id:i group_field:s",
    ),
    (
        "core_user",
        "name:s first_name:s last_name:s username:s position:s timezone:s role_admin:b \
         role_login:b last_active:u",
    ),
];

/// Streams of which no public response shows the records: their fields and types follow the
/// API's conventions, and each field's description says so.
const UNSEEN: &[&str] = &[
    "crm_pipeline_stage",
    "crm_source",
    "crm_account_category",
    "crm_industry",
    "crm_honorific_title",
    "task_stages",
    "st_stages",
    "st_project_types",
    "st_portfolio",
    "fin_organization",
    "agile_projects",
    "timetracker_timelogs",
];

/// What a field means, where its name does not say it: enumerations, units, oddities.
const NOTES: &[(&str, &str, &str)] = &[
    (
        "crm_account",
        "type",
        "Kind of account: 1 organization, 2 contact",
    ),
    ("crm_account", "VAT", "VAT number (the list payload's spelling)"),
    ("crm_account", "vat", "VAT number (the get payload's spelling)"),
    ("crm_account", "web", "Web site"),
    (
        "crm_lead",
        "active",
        "State of the deal: 1 in progress, 2 lost, 3 won",
    ),
    (
        "crm_lead",
        "customer_id",
        "The account (crm_account) the deal is with",
    ),
    (
        "crm_lead",
        "closing_status_id",
        "Why the deal was closed (crm_loss_reason, when lost)",
    ),
    ("crm_account", "active", "1 active, 0 inactive"),
    (
        "crm_lead_accounts",
        "account_type",
        "Kind of the linked account: 1 organization, 2 contact",
    ),
    (
        "task_tasks",
        "status",
        "Task status: 1 new, 3 in progress, 4 pending owner approval, 5 completed",
    ),
    (
        "task_tasks",
        "type",
        "Task type: 0 task, 1 inbox, 20-23 event, 30 template, 40 milestone",
    ),
    ("task_tasks", "priority", "1 low, 2 medium, 3 high"),
    ("task_tasks", "plan_start_date", "Planned start"),
    ("task_tasks", "start_date", "When work started"),
    ("task_tasks", "closed_date", "When the task was completed"),
    (
        "task_tasks",
        "module",
        "Module of what the task is attached to (st for a project)",
    ),
    (
        "task_tasks",
        "model",
        "What the task is attached to, in the singular (project)",
    ),
    ("task_tasks", "model_id", "Id of what the task is attached to"),
    ("st_projects", "priority", "1 low, 2 medium, 3 high"),
    ("st_projects", "is_archive", "1 archived, 0 not archived"),
    (
        "st_projects",
        "project_type_id",
        "The project template (st_project_types)",
    ),
    ("st_projects", "estimated_revenue", "Contract amount"),
    ("task_tasks", "time_estimate", "Estimated time, in seconds"),
    ("task_tasks", "time_spent", "Time spent, in seconds"),
    (
        "task_tasks",
        "is_archive",
        "Archived: 0/1, sent as a number or as a string",
    ),
    (
        "task_taskslists",
        "list_id",
        "The task list (task_lists): this model links tasks to lists",
    ),
    (
        "st_projects",
        "briefcase_id",
        "The portfolio (st_portfolio) of the project",
    ),
    (
        "st_projects",
        "customer_id",
        "The account (crm_account) the project is for",
    ),
    (
        "fin_invoice",
        "org_id",
        "Your organization issuing the invoice (fin_organization)",
    ),
    ("fin_invoice", "customer_id", "The account (crm_account) invoiced"),
    (
        "fin_invoice_item",
        "discount",
        "Discount, sent as a number or as a string",
    ),
    (
        "fin_invoice_contacts",
        "contact_id",
        "The contact (crm_account), sent as a number or as a string",
    ),
    ("timetracker_timesheets", "time_spent", "Time spent, in seconds"),
    (
        "timetracker_timesheets",
        "time_estimate",
        "Estimated time, in seconds",
    ),
    (
        "customfields_fields",
        "model",
        "The entity the field belongs to, in Flowlu's internal singular name (project, task, issue, ...)",
    ),
    (
        "customfields_fields",
        "fieldset_id",
        "The field set; 5 organization, 6 contact, 3 lead, 1 project",
    ),
    (
        "customfields_fields",
        "api_use_alias",
        "1 when the API names the field's column by its alias",
    ),
    (
        "core_user",
        "last_active",
        "Last login, Unix seconds (edits do not move it: not a change cursor)",
    ),
    ("core_user", "role_admin", "Administrator: 1 yes, 0 no"),
    ("core_user", "role_login", "Can log in: 1 yes, 0 no"),
    ("core_user", "username", "The login e-mail"),
];

/// The standard fields of a stream as `(name, type code)`.
pub(crate) fn standard_fields(stream: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    FIELDS
        .iter()
        .filter(move |(s, _)| *s == stream)
        .flat_map(|(_, spec)| spec.split_whitespace())
        .filter_map(|pair| pair.split_once(':'))
}

/// The creation and change stamps Flowlu sets on every record: never blank, so declared as
/// naive timestamps.
pub(crate) fn is_stamp(name: &str) -> bool {
    matches!(name, "created_date" | "updated_date" | "created" | "updated")
}

fn property(stream: &str, name: &str, code: &str) -> Value {
    let (types, format, what): (Value, Option<&str>, &str) = match code {
        "i" => (json!(["integer", "null"]), None, "an integer"),
        "n" => (json!(["number", "null"]), None, "a number"),
        "b" => (json!(["integer", "null"]), None, "0 or 1"),
        "t" if is_stamp(name) => (
            json!(["string", "null"]),
            Some("date-time"),
            "YYYY-MM-DD HH:mm:ss in the portal's time zone (no offset), set by Flowlu",
        ),
        "t" => (
            json!(["string", "null"]),
            Some("date-time"),
            "YYYY-MM-DD HH:mm:ss in the portal's time zone (no offset); null when not set (Flowlu's \"\" and 0000-00-00 00:00:00)",
        ),
        "d" => (
            json!(["string", "null"]),
            Some("date"),
            "YYYY-MM-DD; null when not set (Flowlu's \"\" and 0000-00-00)",
        ),
        "u" => (json!(["integer", "null"]), None, "Unix seconds"),
        "is" => (
            json!(["integer", "null"]),
            None,
            "an integer; Flowlu sends it as a number or as a string, passed on as the integer",
        ),
        "ns" => (
            json!(["number", "null"]),
            None,
            "a number; Flowlu sends it as a number or as a string, passed on as the number",
        ),
        _ => (json!(["string", "null"]), None, "text"),
    };
    let note = NOTES
        .iter()
        .find(|(s, f, _)| *s == stream && *f == name)
        .map(|(_, _, n)| *n);
    let mut description = match note {
        Some(n) => format!("{n} ({what})"),
        None => format!("{} ({what})", name.replace('_', " ")),
    };
    if UNSEEN.contains(&stream) {
        description
            .push_str("; no public response shows this model, so the type follows the API's conventions");
    }
    let mut schema = json!({ "type": types, "description": description });
    if let Some(format) = format {
        schema["format"] = json!(format);
        if format == "date-time" {
            schema["airbyte_type"] = json!("timestamp_without_timezone");
        }
    }
    schema
}

/// Whether the source turns a value of JSON type `seen` into the declared type of `property`
/// (`name` of `stream`): text in a custom field column (`x-flowlu-field`), in a date, or in
/// a field public responses show in two types.
pub(crate) fn shaped_from_text(stream: &str, name: &str, property: &Value, seen: &str) -> bool {
    seen == "string"
        && (property.get(FIELD_KEYWORD).is_some()
            || property.get("format").is_some()
            || standard_fields(stream).any(|(n, code)| n == name && matches!(code, "is" | "ns")))
}

/// One custom field of an account, from `customfields/fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CustomField {
    /// The field's id in Flowlu.
    pub id: String,
    /// The column name, `cf_<id>`.
    pub column: String,
    /// The column's name by alias, when the portal names it so (`api_use_alias` = 1).
    pub alias: Option<String>,
    /// The field's name in Flowlu.
    pub title: String,
    /// Flowlu's field type (`text`, `number`, `date`, `select`, `checkbox`, ...).
    pub kind: String,
}

/// Flowlu's field sets of the standard entities: `fieldset_id` -> stream.
const FIELDSETS: &[(&str, &str)] = &[
    ("1", "st_projects"),
    ("3", "crm_lead"),
    ("5", "crm_account"),
    ("6", "crm_account"),
];

fn singular(model: &str) -> &str {
    model.strip_suffix('s').unwrap_or(model)
}

/// The stream whose records carry custom fields of `module`/`model`, where `model` is
/// Flowlu's internal name (singular: `project`, `task`, `issue`) or the API path's name.
fn stream_of_entity(module: &str, model: &str) -> Option<&'static str> {
    if module == "crm" && (model == "organization" || model == "contact") {
        return Some("crm_account");
    }
    MODELS
        .iter()
        .find(|m| m.module == module && (m.model == model || singular(m.model) == model))
        .map(|m| m.stream)
}

fn is_select(kind: &str) -> bool {
    matches!(kind, "select" | "list" | "multiselect" | "radio" | "dropdown")
}

impl CustomField {
    /// Reads a `customfields/fields` record: the streams it belongs to (by module and model,
    /// else by field set) and the field; `None` when it belongs to no stream.
    pub(crate) fn from_record(record: &Value) -> Option<(Vec<&'static str>, Self)> {
        let text = |k: &str| match record.get(k)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let mut streams = Vec::new();
        if let (Some(module), Some(model)) = (text("module"), text("model")) {
            streams.extend(stream_of_entity(&module, &model));
        }
        if streams.is_empty() {
            if let Some(set) = text("fieldset_id") {
                streams.extend(FIELDSETS.iter().filter(|(id, _)| *id == set).map(|(_, s)| *s));
            }
        }
        if streams.is_empty() {
            return None;
        }
        let alias = match text("api_use_alias").as_deref() {
            Some("1") | Some("true") => text("alias").filter(|a| crate::base::encode::check_name(a).is_ok()),
            _ => None,
        };
        let id = text("id")?;
        crate::base::encode::check_name(&id).ok()?;
        let field = Self {
            column: format!("cf_{id}"),
            id,
            alias,
            title: text("name").unwrap_or_default(),
            kind: text("type").unwrap_or_default(),
        };
        Some((streams, field))
    }

    /// The key Flowlu's records carry the value under: the alias where the portal names the
    /// field so, else `cf_<id>`.
    pub(crate) fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.column)
    }

    /// Whether a select field (its records also carry the chosen option's label).
    pub(crate) fn is_select(&self) -> bool {
        is_select(&self.kind)
    }

    /// The column schema of this field's `part`, with its `x-flowlu-field` mapping.
    fn column_schema(&self, part: Part) -> Value {
        let what = if self.title.is_empty() {
            format!("Custom field ({})", self.kind)
        } else {
            format!("Custom field ({}): {}", self.kind, self.title)
        };
        let (key, mut schema) = match part {
            Part::Label => (
                format!("{}_value", self.key()),
                json!({"type": ["string", "null"], "readOnly": true,
                       "description": format!("{what}; the chosen option's label (read only: write the option id)")}),
            ),
            Part::Value => (self.key().to_string(), custom_value_schema(&self.kind, &what)),
        };
        let mapping = Mapping {
            key,
            kind: self.kind.clone(),
            part,
        };
        schema[FIELD_KEYWORD] = mapping.to_json(&self.id, &self.title);
        schema
    }

    /// The columns of this field: `(name, schema)`, the name from `base` (a select field's
    /// label column is `<base>_label`, or `<key>_value` by key).
    fn columns(&self, base: &str, naming: Naming) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        if self.is_select() {
            let label = match naming {
                Naming::ByName => format!("{base}_label"),
                Naming::ByKey => format!("{base}_value"),
            };
            out.push((label, self.column_schema(Part::Label)));
        }
        out.push((base.to_string(), self.column_schema(Part::Value)));
        out
    }
}

/// The schema of a custom field's value column, typed from its Flowlu type (Flowlu sends every
/// custom value as text; the source passes it on in this type).
fn custom_value_schema(kind: &str, what: &str) -> Value {
    let (types, format, holds) = match kind {
        "number" | "numeric" | "decimal" | "float" | "money" | "integer" => {
            (json!(["number", "null"]), None, "a number")
        }
        "checkbox" | "boolean" | "bool" => (json!(["integer", "null"]), None, "1 checked, 0 not"),
        "date" => (json!(["string", "null"]), Some("date"), "YYYY-MM-DD"),
        "datetime" => (
            json!(["string", "null"]),
            Some("date-time"),
            "YYYY-MM-DD HH:mm:ss in the portal's time zone",
        ),
        kind if is_select(kind) => (json!(["string", "null"]), None, "the chosen option's id"),
        _ => (json!(["string", "null"]), None, "text"),
    };
    let mut schema = json!({"type": types, "description": format!("{what}; {holds}, null when not set")});
    if let Some(format) = format {
        schema["format"] = json!(format);
        if format == "date-time" {
            schema["airbyte_type"] = json!("timestamp_without_timezone");
        }
    }
    schema
}

/// The schema of a model's records, without custom fields.
pub(crate) fn base_schema(model: &Model) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "id".into(),
        json!({"type": "integer", "description": "Record id"}),
    );
    for (name, code) in standard_fields(model.stream) {
        properties.insert(name.into(), property(model.stream, name, code));
    }
    properties.insert(
        RAW_VALUES.into(),
        json!({
            "type": ["object", "null"],
            "readOnly": true,
            "additionalProperties": true,
            "description": "Values Flowlu sent that fit no declared type (a date that is no date, text in a number field), by field, exactly as sent: their own column is null. Also the cursor Flowlu sent of a record a reconciliation sent again (restored with an old cursor), whose cursor column then holds the stream's newest cursor. Null otherwise",
        }),
    );
    properties.insert(connector_core::DELETED_AT.into(), deleted_at_column());
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "title": model.stream,
        "description": format!("Records of Flowlu's {}/{} model as Flowlu sends them (dates not set as null)", model.module, model.model),
        "additionalProperties": true,
        "properties": properties,
    })
}

/// `_ab_cdc_deleted_at`, on every stream (each has the primary key `id`): null on every record
/// Flowlu sends, set (UTC) on a record deleted in Flowlu (a tombstone).
fn deleted_at_column() -> Value {
    json!({
        "type": ["string", "null"],
        "format": "date-time",
        "airbyte_type": "timestamp_with_timezone",
        "description": "Not a Flowlu field: null on every record Flowlu sends; on a record deleted in Flowlu (only the id and the cursor set), when the connector learned of the delete (UTC)",
    })
}

/// The schema of a model's records with the account's custom fields named by their keys
/// (`cf_<id>`, as Flowlu sends them).
pub(crate) fn schema_with(model: &Model, custom: &[CustomField]) -> Value {
    schema_named(model, custom, Naming::ByKey)
}

/// The schema of a model's records with the account's custom fields, their columns named as
/// `naming` says (see [`crate::base::columns`]): in field id order, unique case-insensitively,
/// never a standard field's name.
pub(crate) fn schema_named(model: &Model, custom: &[CustomField], naming: Naming) -> Value {
    let mut schema = base_schema(model);
    let mut fields: Vec<&CustomField> = custom.iter().collect();
    fields.sort_by(|a, b| {
        let n = |f: &CustomField| f.id.parse::<u64>().unwrap_or(u64::MAX);
        n(a).cmp(&n(b)).then_with(|| a.id.cmp(&b.id))
    });
    fields.dedup_by(|a, b| a.id == b.id);
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        let mut names = Names::reserving(properties.keys().map(String::as_str));
        for field in fields {
            let base = match naming {
                Naming::ByName => {
                    let suffixes: &[&str] = if field.is_select() { &["", "_label"] } else { &[""] };
                    names.name_field(&field.id, &field.title, suffixes)
                }
                Naming::ByKey => {
                    // As Flowlu names them; a key that is already a standard field (an alias
                    // such as `name`) keeps the standard column.
                    let key = field.key().to_string();
                    if !names.is_free(&key) {
                        continue;
                    }
                    names.take(&key);
                    names.take(&format!("{key}_value"));
                    key
                }
            };
            for (name, column) in field.columns(&base, naming) {
                properties.entry(name).or_insert(column);
            }
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn custom_fields_join_their_streams_by_singular_model_and_fieldset() {
        let record = json!({"id": 7, "name": "Budget", "type": "number", "module": "st", "model": "project"});
        let (streams, field) = CustomField::from_record(&record).unwrap();
        assert_eq!((streams, field.column.as_str()), (vec!["st_projects"], "cf_7"));
        let m = crate::base::streams::model("st_projects").unwrap();
        let schema = schema_with(m, std::slice::from_ref(&field));
        assert_eq!(
            schema["properties"]["cf_7"],
            json!({"type": ["number", "null"],
                   "description": "Custom field (number): Budget; a number, null when not set",
                   "x-flowlu-field": {"id": "7", "key": "cf_7", "name": "Budget", "type": "number", "part": "value"}})
        );
        assert_eq!(schema["additionalProperties"], json!(true));
        let named = schema_named(m, &[field], Naming::ByName);
        assert_eq!(
            named["properties"]["budget"]["x-flowlu-field"]["key"],
            json!("cf_7")
        );
        assert!(named["properties"].get("cf_7").is_none());

        let by_set = json!({"id": 9, "name": "Tier", "type": "select", "fieldset_id": 6, "alias": "tier", "api_use_alias": 1});
        let (streams, field) = CustomField::from_record(&by_set).unwrap();
        assert_eq!(streams, vec!["crm_account"]);
        let m = crate::base::streams::model("crm_account").unwrap();
        let props = schema_with(m, std::slice::from_ref(&field))["properties"].clone();
        for col in ["tier", "tier_value"] {
            assert!(props.get(col).is_some(), "{col} missing");
        }
        assert_eq!(props["tier_value"]["readOnly"], json!(true));
        let props = schema_named(m, &[field], Naming::ByName)["properties"].clone();
        assert_eq!(props["tier"]["x-flowlu-field"]["key"], json!("tier"));
        assert_eq!(props["tier_label"]["x-flowlu-field"]["key"], json!("tier_value"));
        assert!(CustomField::from_record(&json!({"id": 1})).is_none());
        let task = json!({"id": 2, "module": "task", "model": "task", "fieldset_id": 3});
        assert_eq!(CustomField::from_record(&task).unwrap().0, vec!["task_tasks"]);
        let issue = json!({"id": 3, "module": "agile", "model": "issue"});
        assert_eq!(CustomField::from_record(&issue).unwrap().0, vec!["agile_issues"]);
    }

    #[test]
    fn a_custom_field_never_takes_a_standard_fields_name() {
        let m = crate::base::streams::model("crm_lead").unwrap();
        let field = |id: u64, name: &str, kind: &str| {
            CustomField::from_record(
                &json!({"id": id, "name": name, "type": kind, "module": "crm", "model": "lead"}),
            )
            .unwrap()
            .1
        };
        let fields = [
            field(3, "Budget", "number"),
            field(1, "Deadline", "date"),
            field(2, "deadline", "text"),
        ];
        let props = schema_named(m, &fields, Naming::ByName)["properties"].clone();
        assert_eq!(props["budget_3"]["type"], json!(["number", "null"]));
        assert_eq!(props["deadline_1"]["format"], json!("date"));
        assert_eq!(props["deadline_2"]["type"], json!(["string", "null"]));
        assert_eq!(props["budget"]["type"], json!(["number", "null"]));
    }

    #[test]
    fn every_stream_declares_its_fields_with_plain_integer_ids() {
        for m in MODELS {
            let schema = base_schema(m);
            let props = schema["properties"].as_object().unwrap();
            assert!(props.len() > 2, "{} declares only {:?}", m.stream, props.keys());
            assert_eq!(props["id"]["type"], json!("integer"));
            if let Some((cursor, _)) = m.cursor {
                assert!(props.contains_key(cursor), "{} lacks its cursor", m.stream);
            }
        }
        let lead = base_schema(crate::base::streams::model("crm_lead").unwrap());
        assert_eq!(lead["properties"]["budget"]["type"], json!(["number", "null"]));
        assert_eq!(
            lead["properties"]["closing_date"]["type"],
            json!(["string", "null"])
        );
        assert_eq!(lead["properties"]["closing_date"]["format"], json!("date"));
        assert_eq!(
            lead["properties"]["last_activity_time"]["airbyte_type"],
            json!("timestamp_without_timezone")
        );
        assert_eq!(lead["properties"]["created_date"]["format"], json!("date-time"));
        assert_eq!(
            lead["properties"]["updated_date"]["airbyte_type"],
            json!("timestamp_without_timezone")
        );
        assert!(FIELDS
            .iter()
            .all(|(s, _)| crate::base::streams::model(s).is_some()));
    }
}
