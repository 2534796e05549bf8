//! `StoreSpec`: the `--store` / `BITCONN_STORE` syntax naming where webhooks and execution logs live.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// DynamoDB's own limits on table names.
const TABLE_NAME_LEN: std::ops::RangeInclusive<usize> = 3..=255;
/// A webhooks table named `<prefix>-webhooks` gets the log table `<prefix>-execution-log`; any other name `<name>-execution-log`.
const WEBHOOKS_SUFFIX: &str = "-webhooks";
const LOG_SUFFIX: &str = "-execution-log";
const IDEMPOTENCY_SUFFIX: &str = "-idempotency";
const DELIVERIES_SUFFIX: &str = "-deliveries";
/// The only option a `dynamodb:` spec takes: `dynamodb:<webhooks table>?log_table=<log table>`.
const LOG_TABLE_OPTION: &str = "log_table";
const ACCEPTED: &str =
    "expected `sqlite:<path>`, `sqlite::memory:`, `dynamodb:<table>[?log_table=<table>]` or `memory:`";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid store `{spec}`: {reason}")]
pub struct InvalidStoreSpec {
    spec: String,
    reason: String,
}

impl InvalidStoreSpec {
    fn new(spec: &str, reason: impl Into<String>) -> Self {
        Self {
            spec: spec.to_owned(),
            reason: reason.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqliteLocation {
    /// `sqlite::memory:`: a private database that lives as long as the process.
    InMemory,
    File(PathBuf),
}

/// Where the config store and the execution log live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    /// `memory:`: nothing persists.
    Memory,
    /// `sqlite:<path>`: both in one SQLite file (schema created on open).
    Sqlite(SqliteLocation),
    /// `dynamodb:<table>`: webhooks in `webhooks_table`, entries in `log_table`.
    DynamoDb {
        webhooks_table: String,
        log_table: String,
    },
}

impl StoreSpec {
    /// Names the execution-log table explicitly (e.g. from `BITCONN_EXECUTION_LOG_TABLE`); only for `dynamodb:`.
    pub fn with_log_table(self, table: &str) -> Result<Self, InvalidStoreSpec> {
        match self {
            Self::DynamoDb { webhooks_table, .. } => {
                check_table_name(table).map_err(|reason| InvalidStoreSpec::new(table, reason))?;
                Ok(Self::DynamoDb {
                    webhooks_table,
                    log_table: table.to_owned(),
                })
            }
            other => Err(InvalidStoreSpec::new(
                &other.to_string(),
                "only a dynamodb: store has a log table",
            )),
        }
    }

    /// The `Idempotency-Key` table that goes with a webhooks table when none is named (as for the log table:
    /// `<prefix>-webhooks` gives `<prefix>-idempotency`, any other name `<name>-idempotency`).
    pub fn default_idempotency_table(webhooks_table: &str) -> String {
        match webhooks_table.strip_suffix(WEBHOOKS_SUFFIX) {
            Some(prefix) if !prefix.is_empty() => format!("{prefix}{IDEMPOTENCY_SUFFIX}"),
            _ => format!("{webhooks_table}{IDEMPOTENCY_SUFFIX}"),
        }
    }

    /// The outbound delivery log table that goes with a webhooks table (`<prefix>-deliveries`, as for the others).
    pub fn default_deliveries_table(webhooks_table: &str) -> String {
        match webhooks_table.strip_suffix(WEBHOOKS_SUFFIX) {
            Some(prefix) if !prefix.is_empty() => format!("{prefix}{DELIVERIES_SUFFIX}"),
            _ => format!("{webhooks_table}{DELIVERIES_SUFFIX}"),
        }
    }

    /// The execution-log table that goes with a webhooks table when none is named.
    pub fn default_log_table(webhooks_table: &str) -> String {
        match webhooks_table.strip_suffix(WEBHOOKS_SUFFIX) {
            Some(prefix) if !prefix.is_empty() => format!("{prefix}{LOG_SUFFIX}"),
            _ => format!("{webhooks_table}{LOG_SUFFIX}"),
        }
    }
}

impl FromStr for StoreSpec {
    type Err = InvalidStoreSpec;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = spec
            .split_once(':')
            .ok_or_else(|| InvalidStoreSpec::new(spec, ACCEPTED))?;
        match scheme {
            "memory" if rest.is_empty() => Ok(Self::Memory),
            "memory" => Err(InvalidStoreSpec::new(
                spec,
                "`memory:` takes nothing after the colon",
            )),
            "sqlite" => parse_sqlite(spec, rest),
            "dynamodb" => parse_dynamodb(spec, rest),
            _ => Err(InvalidStoreSpec::new(
                spec,
                format!("unknown store kind `{scheme}`; {ACCEPTED}"),
            )),
        }
    }
}

fn parse_sqlite(spec: &str, rest: &str) -> Result<StoreSpec, InvalidStoreSpec> {
    let path = rest.strip_prefix("//").unwrap_or(rest);
    match path {
        ":memory:" => Ok(StoreSpec::Sqlite(SqliteLocation::InMemory)),
        "" => Err(InvalidStoreSpec::new(
            spec,
            "`sqlite:` needs a file path, e.g. sqlite:./bitconn.db",
        )),
        path => Ok(StoreSpec::Sqlite(SqliteLocation::File(PathBuf::from(path)))),
    }
}

fn parse_dynamodb(spec: &str, rest: &str) -> Result<StoreSpec, InvalidStoreSpec> {
    let (table, options) = match rest.split_once('?') {
        Some((table, options)) => (table, Some(options)),
        None => (rest, None),
    };
    check_table_name(table).map_err(|reason| InvalidStoreSpec::new(spec, reason))?;
    let mut log_table = StoreSpec::default_log_table(table);
    for option in options.into_iter().flat_map(|o| o.split('&')) {
        match option.split_once('=') {
            Some((LOG_TABLE_OPTION, value)) => {
                check_table_name(value).map_err(|reason| InvalidStoreSpec::new(spec, reason))?;
                log_table = value.to_owned();
            }
            _ => {
                return Err(InvalidStoreSpec::new(
                    spec,
                    format!("unknown option `{option}`; only `{LOG_TABLE_OPTION}=<table>`"),
                ));
            }
        }
    }
    Ok(StoreSpec::DynamoDb {
        webhooks_table: table.to_owned(),
        log_table,
    })
}

fn check_table_name(name: &str) -> Result<(), String> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !TABLE_NAME_LEN.contains(&name.len()) || !valid_chars {
        return Err(format!(
            "`{name}` is not a DynamoDB table name ({} to {} letters, digits, `_`, `-` or `.`)",
            TABLE_NAME_LEN.start(),
            TABLE_NAME_LEN.end()
        ));
    }
    Ok(())
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory:"),
            Self::Sqlite(SqliteLocation::InMemory) => f.write_str("sqlite::memory:"),
            Self::Sqlite(SqliteLocation::File(path)) => write!(f, "sqlite:{}", path.display()),
            Self::DynamoDb {
                webhooks_table,
                log_table,
            } if *log_table == Self::default_log_table(webhooks_table) => {
                write!(f, "dynamodb:{webhooks_table}")
            }
            Self::DynamoDb {
                webhooks_table,
                log_table,
            } => {
                write!(f, "dynamodb:{webhooks_table}?{LOG_TABLE_OPTION}={log_table}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamo(webhooks: &str, log: &str) -> StoreSpec {
        StoreSpec::DynamoDb {
            webhooks_table: webhooks.into(),
            log_table: log.into(),
        }
    }

    #[test]
    fn accepted_forms_parse_and_print_back() {
        let cases = [
            ("memory:", StoreSpec::Memory),
            ("sqlite::memory:", StoreSpec::Sqlite(SqliteLocation::InMemory)),
            (
                "sqlite:./bitconn.db",
                StoreSpec::Sqlite(SqliteLocation::File("./bitconn.db".into())),
            ),
            (
                "sqlite:/var/lib/bitconn/a b.db",
                StoreSpec::Sqlite(SqliteLocation::File("/var/lib/bitconn/a b.db".into())),
            ),
            (
                "dynamodb:bitconn-webhooks",
                dynamo("bitconn-webhooks", "bitconn-execution-log"),
            ),
            ("dynamodb:hooks", dynamo("hooks", "hooks-execution-log")),
            ("dynamodb:a.b_c?log_table=logs", dynamo("a.b_c", "logs")),
        ];
        for (text, expected) in cases {
            let parsed: StoreSpec = text.parse().unwrap();
            assert_eq!(parsed, expected, "{text}");
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(
            "sqlite://x.db".parse::<StoreSpec>().unwrap(),
            StoreSpec::Sqlite(SqliteLocation::File("x.db".into()))
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        let cases = [
            ("", "expected"),
            ("bitconn.db", "expected"),
            ("postgres://x", "unknown store kind `postgres`"),
            ("memory:x", "nothing after"),
            ("sqlite:", "needs a file path"),
            ("dynamodb:", "not a DynamoDB table name"),
            ("dynamodb:ab", "not a DynamoDB table name"),
            ("dynamodb:bad/name", "not a DynamoDB table name"),
            ("dynamodb:good?region=x", "unknown option `region=x`"),
            ("dynamodb:good?log_table=", "not a DynamoDB table name"),
            ("SQLITE:x", "unknown store kind"),
        ];
        for (text, reason) in cases {
            let error = text.parse::<StoreSpec>().unwrap_err().to_string();
            assert!(error.contains(reason), "{text:?}: {error}");
            assert!(error.contains(&format!("`{text}`")), "{text:?}: {error}");
        }
    }

    #[test]
    fn the_log_table_can_be_named_later() {
        let spec: StoreSpec = "dynamodb:prod-hooks".parse().unwrap();
        assert_eq!(
            spec.clone().with_log_table("prod-log").unwrap(),
            dynamo("prod-hooks", "prod-log")
        );
        assert!(spec.with_log_table("x").is_err());
        assert!(StoreSpec::Memory.with_log_table("logs").is_err());
    }
}
