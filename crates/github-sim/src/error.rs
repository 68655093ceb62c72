//! GitHub's error bodies: `{"message", "errors"?, "documentation_url", "status"}`, where `status`
//! is the HTTP status as a *string* (current GitHub behaviour, see error-404-with-status.json).

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

pub const DOCS: &str = "https://docs.github.com/rest";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub resource: String,
    pub code: String,
    /// Empty for the errors GitHub sends without one (e.g. a commit status over the cap).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
    /// A sentence GitHub adds to some errors (`code: "custom"` or `"unprocessable"`), e.g.
    /// "Body is too long (maximum is 65536 characters)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Field order matches GitHub's bodies (a struct keeps declaration order when serialised).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    pub documentation_url: String,
    pub status: String,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Option<Vec<FieldError>>,
    pub documentation_url: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>, doc: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: None,
            documentation_url: doc.into(),
        }
    }

    pub fn not_found(doc: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", doc)
    }

    pub fn bad_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS)
    }

    pub fn validation(resource: &str, code: &str, field: &str, doc: &str) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Validation Failed".into(),
            errors: Some(vec![FieldError {
                resource: resource.into(),
                code: code.into(),
                field: field.into(),
                message: None,
            }]),
            documentation_url: doc.into(),
        }
    }

    /// [`ApiError::validation`] with the error's own sentence.
    pub fn validation_message(
        resource: &str,
        code: &str,
        field: &str,
        message: &str,
        doc: &str,
    ) -> Self {
        let mut e = Self::validation(resource, code, field, doc);
        if let Some(first) = e.errors.as_mut().and_then(|v| v.first_mut()) {
            first.message = Some(message.into());
        }
        e
    }

    /// A malformed JSON request body (GitHub answers 400 "Problems parsing JSON").
    pub fn bad_json(doc: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Problems parsing JSON", doc)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            message: self.message.clone(),
            errors: self.errors.clone(),
            documentation_url: self.documentation_url.clone(),
            status: self.status.as_u16().to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        (
            self.status,
            [(http::header::CONTENT_TYPE, crate::http::JSON_CT)],
            body,
        )
            .into_response()
    }
}
