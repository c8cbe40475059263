//! The emulator's own wire shapes: error bodies and the few fixed documents (companyinfo, system/info).
//! Nothing here is shared with the client crate.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

/// One item of `errors[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The item's `code`: what is wrong, e.g. `MissingRequiredField`, `NotFound`, `ObjectExists`.
    pub code: &'static str,
    /// The item's `message` for humans, e.g. `Service Status 17 not found for Service Board 21`.
    pub message: String,
    /// The item's `resource`: the object type that failed validation, e.g. `ticket`.
    pub resource: String,
    /// The item's `field`: the path of the offending field inside the object, e.g. `status/id`.
    pub field: String,
}

impl FieldError {
    /// One `errors[]` item with these `code`, `message`, `resource` and `field` values.
    pub fn new(
        code: &'static str,
        message: impl Into<String>,
        resource: &str,
        field: &str,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            resource: resource.to_owned(),
            field: field.to_owned(),
        }
    }

    fn to_json(&self) -> Value {
        json!({"code": self.code, "message": self.message, "resource": self.resource, "field": self.field})
    }
}

/// An error answer: status + ConnectWise-shaped body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status answered.
    pub status: StatusCode,
    /// The JSON body answered: `{code, message}`, with `errors` for validation failures.
    pub body: Value,
}

impl ApiError {
    /// An answer with this status and body as given.
    pub fn new(status: StatusCode, body: Value) -> Self {
        Self { status, body }
    }

    /// 401 for unknown or wrong keys. The canonical body is uncertain (§12.2); `Unauthorized` is the code
    /// clients special-case.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            json!({"code": "Unauthorized", "message": "Authentication failed."}),
        )
    }

    /// 403 for a missing security-role level.
    pub fn security() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            json!({"code": "Security", "message": "You do not have security permission to perform this action."}),
        )
    }

    /// 404 for a record that does not exist, e.g. "Ticket 12 not found".
    pub fn not_found(label: &str, id: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            json!({"code": "NotFound", "message": format!("{label} {id} not found")}),
        )
    }

    /// 404 for a path the API does not have (also the old codebase after a move).
    pub fn no_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            json!({"code": "NotFound", "message": format!("No HTTP resource was found that matches the request URI '{path}'.")}),
        )
    }

    /// 405 for a known path with an unsupported verb.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"code": "ConnectWiseApi", "message": format!("The requested resource does not support http method '{method}'.")}),
        )
    }

    /// 400 `InvalidObject` with items, e.g. `MissingRequiredField`, `NotFound`, `ObjectExists`.
    pub fn invalid(resource: &str, errors: Vec<FieldError>) -> Self {
        let items: Vec<Value> = errors.iter().map(FieldError::to_json).collect();
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({"code": "InvalidObject", "message": format!("{resource} object is invalid"), "errors": items}),
        )
    }

    /// 400 `InvalidObject` with a message and no items.
    pub fn invalid_message(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({"code": "InvalidObject", "message": message.into(), "errors": null}),
        )
    }

    /// 400 `MaxLengthField` (top level, as model validation answers before business rules run).
    pub fn max_length(field: &str, max: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({"code": "MaxLengthField", "message": format!("The field {field} must be a string with a maximum length of {max}.")}),
        )
    }

    /// 400 for a `pageSize` outside 1..=max.
    pub fn page_size_out_of_range(max: u32) -> Self {
        Self::invalid_with_message(
            "pageSize object is invalid",
            vec![FieldError::new(
                "OutOfRange",
                format!("The field pageSize must be between 1 and {max}."),
                "pageSize",
                "pageSize",
            )],
        )
    }

    fn invalid_with_message(message: &str, errors: Vec<FieldError>) -> Self {
        let items: Vec<Value> = errors.iter().map(FieldError::to_json).collect();
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({"code": "InvalidObject", "message": message, "errors": items}),
        )
    }

    /// 400 for a `conditions`/`childConditions` string that does not parse.
    pub fn bad_conditions() -> Self {
        Self::invalid_message(super::conditions::PARSE_ERROR_MESSAGE)
    }

    /// 400 for a missing `clientId` header (shape is our choice: the reference leaves it open).
    pub fn missing_client_id() -> Self {
        Self::invalid_with_message(
            "clientId object is invalid",
            vec![FieldError::new(
                "MissingRequiredField",
                "A clientId header is required for all API calls.",
                "clientId",
                "clientId",
            )],
        )
    }

    /// 400 for an `Accept` version below the configured minimum [observed body].
    pub fn unsupported_version(uri: &str, version: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({"code": "ConnectWiseApi", "message": format!("The HTTP resource that matches the request URI '{uri}' does not support the API version '{version}'.")}),
        )
    }

    /// 500 for a bare value where an object reference is expected [observed].
    pub fn conversion(value: &Value, type_name: &str, path: &str) -> Self {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": "ConnectWiseApi", "message": format!("Error converting value \"{shown}\" to type 'ConnectWise.Apis.v3.Models.{type_name}'. Path '{path}', line 1.")}),
        )
    }

    /// 400 for a body that is not JSON (or not the expected JSON kind).
    pub fn bad_json(detail: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({"code": "InvalidObject", "message": format!("The request body could not be read: {detail}"), "errors": null}),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// The 429 body (note the key `error`, not `code`).
pub fn too_many_requests_body() -> Value {
    json!({"error": "ConnectWiseAPI", "message": "Too many requests. Please try again in 30 seconds."})
}

/// The body of an injected 500.
pub fn server_error_body() -> Value {
    json!({"code": "ConnectWiseApi", "message": "A timeout has occured. Please try again.", "errors": null})
}
