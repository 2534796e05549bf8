//! The JSON-RPC 2.0 envelope of Odoo's `/jsonrpc` endpoint: building calls and reading answers and faults.

use serde_json::{Value, json};

use super::fault::{OdooError, OdooFault};

pub(crate) fn call_body(id: u64, service: &str, method: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "call", "id": id,
           "params": {"service": service, "method": method, "args": args}})
}

/// Reads an answer: `result` (absent means Odoo returned None, i.e. null) or `error` (a fault, traceback dropped).
pub(crate) fn parse_answer(mut body: Value) -> Result<Value, OdooError> {
    let Some(obj) = body.as_object_mut() else {
        return Err(OdooError::Protocol("the JSON-RPC answer is not an object".into()));
    };
    if let Some(error) = obj.remove("error") {
        return Err(OdooError::Fault(parse_fault(&error)));
    }
    Ok(obj.remove("result").unwrap_or(Value::Null))
}

fn parse_fault(error: &Value) -> OdooFault {
    let data = error.get("data");
    let name = data.and_then(|d| d.get("name")).and_then(Value::as_str);
    let message = data
        .and_then(|d| d.get("message"))
        .and_then(Value::as_str)
        .or_else(|| error.get("message").and_then(Value::as_str));
    OdooFault {
        name: name.unwrap_or("odoo.exceptions.UserError").to_owned(),
        message: message.unwrap_or("Odoo Server Error").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_result_means_null() {
        assert_eq!(
            parse_answer(json!({"jsonrpc": "2.0", "id": 1})).unwrap(),
            Value::Null
        );
        assert_eq!(
            parse_answer(json!({"id": 1, "result": [1, 2]})).unwrap(),
            json!([1, 2])
        );
    }

    #[test]
    fn faults_keep_name_and_message_and_drop_the_traceback() {
        let answer = json!({"jsonrpc": "2.0", "id": 3, "error": {"code": 200, "message": "Odoo Server Error",
            "data": {"name": "odoo.exceptions.ValidationError", "debug": "Traceback (most recent call last): …",
                     "message": "Contacts require a name", "arguments": ["Contacts require a name"], "context": {}}}});
        let Err(OdooError::Fault(fault)) = parse_answer(answer) else {
            panic!("expected a fault")
        };
        assert_eq!(fault.kind(), "ValidationError");
        assert_eq!(fault.message, "Contacts require a name");
        assert!(!format!("{fault:?}").contains("Traceback"));
    }

    #[test]
    fn non_objects_are_protocol_errors() {
        assert!(matches!(parse_answer(json!([1])), Err(OdooError::Protocol(_))));
    }
}
