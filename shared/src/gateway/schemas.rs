//! `fields_get` answers cached per Odoo user and model for a TTL (one refresh per expiry, however many requests
//! are waiting), and the loop that feeds validators.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{ModelName, WebhookConfig};
use crate::error::GatewayError;
use crate::odoo::{Catalog, FieldCheck, ModelFields, OdooSession};

/// Most models one request may need the fields of (spec, domain and values together).
const MAX_MODELS_PER_REQUEST: usize = 32;

type CacheKey = (String, String, String, ModelName);

/// Field metadata per (server, database, login, model): which fields a user sees depends on its groups.
pub struct SchemaCache {
    ttl: Duration,
    entries: Mutex<HashMap<CacheKey, (Instant, Arc<ModelFields>)>>,
    /// One lock per key being loaded: the first request of an expired key fetches, the others wait for it.
    loading: Mutex<HashMap<CacheKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl SchemaCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::default(),
            loading: Mutex::default(),
        }
    }

    fn fresh(&self, key: &CacheKey) -> Option<Arc<ModelFields>> {
        match self.lock().get(key) {
            Some((at, fields)) if at.elapsed() < self.ttl => Some(fields.clone()),
            _ => None,
        }
    }

    pub async fn fields(
        &self,
        session: &OdooSession<'_>,
        model: &ModelName,
    ) -> Result<Arc<ModelFields>, GatewayError> {
        let conn = session.connection();
        let key = (
            conn.url.clone(),
            conn.db.clone(),
            conn.login.clone(),
            model.clone(),
        );
        if let Some(fields) = self.fresh(&key) {
            return Ok(fields);
        }
        let gate = self
            .loading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        let _turn = gate.lock().await;
        // Whoever held the gate before may have loaded it meanwhile.
        if let Some(fields) = self.fresh(&key) {
            return Ok(fields);
        }
        let loaded = session.fields_get(model).await.map(Arc::new);
        if let Ok(fields) = &loaded {
            self.lock().insert(key.clone(), (Instant::now(), fields.clone()));
        }
        self.loading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&key);
        Ok(loaded?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, (Instant, Arc<ModelFields>)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `check` until it no longer asks for a model's fields, loading each one it asks for.
    pub async fn resolve<'r, T>(
        &self,
        session: &OdooSession<'_>,
        config: &'r WebhookConfig,
        mut check: impl FnMut(&Catalog<'r>) -> Result<T, Checked>,
    ) -> Result<T, GatewayError> {
        let mut catalog = Catalog::new(&config.field_rules, config.rights());
        for _ in 0..MAX_MODELS_PER_REQUEST {
            match check(&catalog) {
                Ok(value) => return Ok(value),
                Err(Checked::Field(FieldCheck::NeedModel(model), _)) => {
                    catalog.insert(self.fields(session, &model).await?)
                }
                Err(Checked::Field(problem, place)) => return Err(place.error(problem)),
                Err(Checked::Refused(error)) => return Err(error),
            }
        }
        Err(GatewayError::invalid_payload(
            "too_complex",
            "the request involves too many models",
        ))
    }
}

/// Where a field reference appeared: it decides the error a caller gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Fields,
    Values,
    Domain,
    Order,
}

impl Place {
    fn error(self, problem: FieldCheck) -> GatewayError {
        match problem {
            FieldCheck::Denied { ref field, .. } => GatewayError::PermissionDenied {
                reason: "field_not_allowed",
                field: Some(field.clone()),
                message: Some(problem.to_string()),
            },
            FieldCheck::ModelNotAllowed {
                ref model, ref path, ..
            } => GatewayError::PermissionDenied {
                reason: "model_not_allowed",
                field: Some(path.clone()),
                message: Some(format!(
                    "{problem}; allow it with --models {model} or, for reading only, --read-models {model}"
                )),
            },
            FieldCheck::Unknown { ref field, .. } | FieldCheck::NotRelational { ref field, .. }
                if self != Place::Domain =>
            {
                GatewayError::InvalidField {
                    field: field.clone(),
                    message: problem.to_string(),
                }
            }
            other => GatewayError::InvalidDomain(other.to_string()),
        }
    }
}

/// A validator's failure: a field problem and where it was found.
#[derive(Debug)]
pub enum Checked {
    Field(FieldCheck, Place),
    /// A refusal that is not about one field reference (a relation command the webhook may not run).
    Refused(GatewayError),
}

pub trait At<T> {
    fn at(self, place: Place) -> Result<T, Checked>;
}

impl<T> At<T> for Result<T, FieldCheck> {
    fn at(self, place: Place) -> Result<T, Checked> {
        self.map_err(|e| Checked::Field(e, place))
    }
}
