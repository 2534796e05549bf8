//! The model registry: field definitions from the corpus's `fields_get` dumps, `_order`, `_description`.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

/// The field types the simulator distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Char,
    Text,
    Html,
    Integer,
    Float,
    Monetary,
    Boolean,
    Date,
    Datetime,
    Selection,
    Many2one,
    One2many,
    Many2many,
    Binary,
    Reference,
    Json,
    Other,
}

impl Kind {
    fn parse(s: &str) -> Kind {
        match s {
            "char" => Kind::Char,
            "text" => Kind::Text,
            "html" => Kind::Html,
            "integer" | "many2one_reference" => Kind::Integer,
            "float" => Kind::Float,
            "monetary" => Kind::Monetary,
            "boolean" => Kind::Boolean,
            "date" => Kind::Date,
            "datetime" => Kind::Datetime,
            "selection" => Kind::Selection,
            "many2one" => Kind::Many2one,
            "one2many" => Kind::One2many,
            "many2many" => Kind::Many2many,
            "binary" | "image" => Kind::Binary,
            "reference" => Kind::Reference,
            "json" | "properties" | "properties_definition" => Kind::Json,
            _ => Kind::Other,
        }
    }
    pub fn is_x2many(self) -> bool {
        matches!(self, Kind::One2many | Kind::Many2many)
    }
    pub fn is_relational(self) -> bool {
        matches!(self, Kind::Many2one | Kind::One2many | Kind::Many2many)
    }
    pub fn is_numeric(self) -> bool {
        matches!(self, Kind::Integer | Kind::Float | Kind::Monetary)
    }
}

/// One field of a model.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub kind: Kind,
    pub relation: Option<String>,
    pub relation_field: Option<String>,
    pub store: bool,
    pub readonly: bool,
    pub related: bool,
    /// `related` path (`partner_id.customer_rank`) of a related field.
    pub related_path: Option<String>,
    /// Whether a domain may filter on it (non-stored fields need a search method in Odoo).
    pub searchable: bool,
    pub selection: Option<Vec<String>>,
    /// Every `fields_get` attribute, for `fields_get` itself.
    pub attrs: Map<String, Value>,
}

/// One model: its fields in `fields_get` order.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub description: String,
    pub fields: Vec<Field>,
    pub index: HashMap<String, usize>,
    pub order: String,
    /// Fields the corpus's data file records values of (`None`: no data file, every row is the simulator's own).
    pub recorded: Option<HashSet<String>>,
}

impl Model {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.index.get(name).map(|&i| &self.fields[i])
    }
    pub fn has_active(&self) -> bool {
        self.field("active").is_some_and(|f| f.kind == Kind::Boolean)
    }
}

/// Default `_order` of the corpus's models (golden README table); others use `id`.
const ORDERS: &[(&str, &str)] = &[
    ("res.partner", "complete_name ASC, id DESC"),
    ("res.country", "name"),
    ("res.country.state", "code"),
    ("res.users", "name, login"),
    ("res.company", "sequence, name"),
    ("res.currency", "active desc, name"),
    ("res.partner.category", "name"),
    ("product.template", "is_favorite desc, name"),
    ("product.product", "is_favorite desc, default_code, name, id"),
    ("product.category", "complete_name"),
    ("uom.uom", "factor DESC, id"),
    ("sale.order", "date_order desc, id desc"),
    ("sale.order.line", "order_id, sequence, id"),
    ("crm.lead", "priority desc, id desc"),
    ("crm.stage", "sequence, name, id"),
    ("crm.tag", "id"),
    ("crm.team", "sequence ASC, create_date DESC, id DESC"),
    ("account.move", "date desc, name desc, invoice_date desc, id desc"),
    ("account.move.line", "date desc, move_name desc, id"),
    ("account.journal", "sequence, type, code"),
    ("mail.message", "id desc"),
    ("discuss.channel", "id"),
    ("uom.category", "id"),
    ("ir.model.data", "module, model, name"),
    ("ir.model", "model"),
    ("ir.model.fields", "name"),
    ("ir.model.fields.selection", "sequence, id"),
    ("ir.actions.server", "sequence, name"),
    ("base.automation", "id"),
    ("ir.module.module", "name"),
];

/// `_description` of the models named in access errors and constraint messages.
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("res.partner", "Contact"),
    ("res.partner.category", "Partner Tags"),
    ("res.users", "User"),
    ("res.country", "Country"),
    ("res.company", "Companies"),
    ("sale.order", "Sales Order"),
    ("sale.order.line", "Sales Order Line"),
    ("crm.lead", "Lead/Opportunity"),
    ("account.move", "Journal Entry"),
    ("account.move.line", "Journal Item"),
    ("account.payment", "Payments"),
    ("ir.config_parameter", "System Parameter"),
    ("product.template", "Product"),
    ("product.product", "Product Variant"),
    ("mail.message", "Message"),
    ("ir.model.data", "Model Data"),
    ("ir.model", "Models"),
    ("ir.model.fields", "Fields"),
    ("ir.model.fields.selection", "Fields Selection"),
    ("ir.actions.server", "Server Actions"),
    ("base.automation", "Automation Rule"),
    ("ir.module.module", "Module"),
];

/// Models the corpus touches without describing their fields.
const STUB_MODELS: &[&str] = &["ir.config_parameter", "account.payment"];

/// All models of the simulated database.
#[derive(Debug, Default)]
pub struct Registry {
    pub models: HashMap<String, Model>,
}

impl Registry {
    /// Builds the registry from `fields_get` dumps plus data-only models (their fields inferred from values).
    pub fn build(models: &[(&str, Value)], data: &[(&str, Value)]) -> Registry {
        let mut reg = Registry::default();
        for (name, fields) in models {
            let mut model = empty_model(name);
            if let Value::Object(map) = fields {
                for (fname, attrs) in map {
                    if let Value::Object(attrs) = attrs {
                        add_field(&mut model, field_from_attrs(fname, attrs));
                    }
                }
            }
            reg.models.insert((*name).to_owned(), model);
        }
        for (name, file) in data {
            let model = reg
                .models
                .entry((*name).to_owned())
                .or_insert_with(|| empty_model(name));
            let recorded = model.recorded.get_or_insert_with(HashSet::new);
            for name in file.get("fields").and_then(Value::as_array).into_iter().flatten() {
                if let Some(name) = name.as_str() {
                    recorded.insert(name.to_owned());
                }
            }
            recorded.insert("id".to_owned());
            let Some(records) = file.get("records").and_then(Value::as_array) else {
                continue;
            };
            for rec in records {
                let Some(obj) = rec.as_object() else { continue };
                for (fname, v) in obj {
                    if let Some(recorded) = model.recorded.as_mut()
                        && !recorded.contains(fname)
                    {
                        recorded.insert(fname.clone());
                    }
                    if model.index.contains_key(fname) {
                        continue;
                    }
                    if v.is_null() || v == &Value::Bool(false) {
                        continue;
                    }
                    add_field(model, inferred_field(fname, v));
                }
            }
        }
        for name in STUB_MODELS {
            reg.models
                .entry((*name).to_owned())
                .or_insert_with(|| empty_model(name));
        }
        for model in reg.models.values_mut() {
            if !model.index.contains_key("id") {
                add_field(model, inferred_field("id", &Value::from(1)));
            }
            if !model.index.contains_key("display_name") {
                let mut f = inferred_field("display_name", &Value::from(""));
                f.store = false;
                f.readonly = true;
                add_field(model, f);
            }
        }
        reg
    }

    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.get(name)
    }
}

pub(crate) fn empty_model(name: &str) -> Model {
    Model {
        name: name.to_owned(),
        description: DESCRIPTIONS
            .iter()
            .find(|(m, _)| *m == name)
            .map_or_else(|| name.to_owned(), |(_, d)| (*d).to_owned()),
        fields: Vec::new(),
        index: HashMap::new(),
        recorded: None,
        order: ORDERS
            .iter()
            .find(|(m, _)| *m == name)
            .map_or("id", |(_, o)| o)
            .to_owned(),
    }
}

pub(crate) fn add_field(model: &mut Model, field: Field) {
    model.index.insert(field.name.clone(), model.fields.len());
    model.fields.push(field);
}

pub(crate) fn field_from_attrs(name: &str, attrs: &Map<String, Value>) -> Field {
    let s = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_owned);
    let b = |k: &str| attrs.get(k).and_then(Value::as_bool).unwrap_or(false);
    let selection = attrs.get("selection").and_then(Value::as_array).map(|opts| {
        opts.iter()
            .filter_map(|o| o.get(0).and_then(Value::as_str).map(str::to_owned))
            .collect()
    });
    Field {
        name: name.to_owned(),
        kind: Kind::parse(&s("type").unwrap_or_default()),
        relation: s("relation"),
        relation_field: s("relation_field"),
        store: b("store"),
        readonly: b("readonly"),
        related: attrs.contains_key("related"),
        related_path: s("related"),
        searchable: attrs.get("searchable").and_then(Value::as_bool).unwrap_or(true),
        selection,
        attrs: attrs.clone(),
    }
}

fn inferred_field(name: &str, v: &Value) -> Field {
    let kind = match v {
        Value::Bool(_) => Kind::Boolean,
        Value::Number(n) if n.is_f64() => Kind::Float,
        Value::Number(_) => Kind::Integer,
        Value::Array(items) if items.len() == 2 && items[0].is_i64() && items[1].is_string() => Kind::Other,
        Value::Array(_) => Kind::Other,
        _ => Kind::Char,
    };
    Field {
        name: name.to_owned(),
        kind,
        relation: None,
        relation_field: None,
        store: true,
        readonly: false,
        related: false,
        related_path: None,
        searchable: true,
        selection: None,
        attrs: Map::new(),
    }
}
