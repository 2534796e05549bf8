//! Odoo `order` strings (`"date_order desc, id"`): parsed and rebuilt, so only field names and directions reach Odoo.

use crate::error::GatewayError;

/// Most terms in one `order`.
const MAX_ORDER_TERMS: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderTerm {
    pub field: String,
    pub descending: bool,
    /// `Some(true)` for `nulls first`, `Some(false)` for `nulls last`.
    pub nulls_first: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order(pub Vec<OrderTerm>);

impl Order {
    pub fn parse(text: &str) -> Result<Self, GatewayError> {
        let bad = |why: &str| {
            GatewayError::invalid_payload(
                "invalid_order",
                format!("invalid order {text:?}: {why}; use e.g. \"date_order desc, id\""),
            )
        };
        let mut terms = Vec::new();
        for part in text.split(',') {
            if terms.len() == MAX_ORDER_TERMS {
                return Err(bad(&format!("at most {MAX_ORDER_TERMS} terms")));
            }
            let words: Vec<String> = part.split_whitespace().map(str::to_ascii_lowercase).collect();
            let (field, rest) = words.split_first().ok_or_else(|| bad("empty term"))?;
            if !crate::domain::parse::is_field_name(field) {
                return Err(bad("not a field name"));
            }
            let (descending, rest) = match rest.split_first() {
                Some((d, rest)) if d == "asc" => (false, rest),
                Some((d, rest)) if d == "desc" => (true, rest),
                _ => (false, rest),
            };
            let nulls_first = match rest {
                [] => None,
                [n, f] if n == "nulls" && f == "first" => Some(true),
                [n, l] if n == "nulls" && l == "last" => Some(false),
                _ => return Err(bad("expected asc, desc, nulls first or nulls last")),
            };
            terms.push(OrderTerm {
                field: field.clone(),
                descending,
                nulls_first,
            });
        }
        Ok(Self(terms))
    }

    pub fn to_odoo(&self) -> String {
        let terms: Vec<String> = self
            .0
            .iter()
            .map(|t| {
                let mut s = format!("{} {}", t.field, if t.descending { "desc" } else { "asc" });
                match t.nulls_first {
                    Some(true) => s.push_str(" nulls first"),
                    Some(false) => s.push_str(" nulls last"),
                    None => {}
                }
                s
            })
            .collect();
        terms.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_normalised() {
        assert_eq!(
            Order::parse("date_order DESC, id").unwrap().to_odoo(),
            "date_order desc, id asc"
        );
        assert_eq!(
            Order::parse("name asc nulls last").unwrap().to_odoo(),
            "name asc nulls last"
        );
    }

    #[test]
    fn injection_and_garbage_are_refused() {
        for bad in [
            "",
            "name; drop table",
            "id desc desc",
            "name,",
            "1abc",
            "name sideways",
            "partner_id.name",
        ] {
            assert!(Order::parse(bad).is_err(), "{bad:?}");
        }
    }
}
