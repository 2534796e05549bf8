//! Field-spec extraction: parse a `fields` spec, plan it against the model's fields, fetch, shape.

pub mod fetch;
pub mod plan;
pub mod shape;
pub mod spec;

pub use fetch::{Page, web_specification};
pub use plan::{FetchField, FetchNode, Output, Plan, plan};
pub use shape::{Shaped, shape};
pub use spec::{SpecError, SpecItem};
