//! Reading JSON request bodies as GitHub does: 400 for JSON that does not parse, and for newer
//! endpoints a JSON-schema 422 ("Invalid request.\n\n…", the form check-run-create-422.json
//! records) for a member that is missing or of the wrong type.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// GitHub's JSON-schema refusal (as check-run-create-422.json shows the form).
pub fn schema_error(detail: &str, doc: &str) -> ApiError {
    ApiError::new(
        http::StatusCode::UNPROCESSABLE_ENTITY,
        format!("Invalid request.\n\n{detail}"),
        doc,
    )
}

pub fn object(bytes: &[u8], doc: &str) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(schema_error("Body must be an object.", doc)),
        Err(_) => Err(ApiError::bad_json(doc)),
    }
}

/// An optional string member; `null` counts as absent.
pub fn opt_str(m: &Map<String, Value>, key: &str, doc: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(schema_error(
            &format!("For 'properties/{key}', {v} is not a string."),
            doc,
        )),
    }
}

pub fn opt_bool(m: &Map<String, Value>, key: &str, doc: &str) -> Result<Option<bool>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(schema_error(
            &format!("For 'properties/{key}', {v} is not a boolean."),
            doc,
        )),
    }
}
