//! One error type for the whole API: every failure becomes a status and
//! `{"error":{"code":"…","message":"…"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad query string).
    #[error("{1}")]
    BadRequest(&'static str, String),
    /// 422: well-formed but fails validation.
    #[error("{1}")]
    Unprocessable(&'static str, String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// 404: missing, or belongs to another account (never say which).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("request body is larger than the server's limit (LEADLINE_MAX_BODY_BYTES)")]
    PayloadTooLarge,
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// 429 with `Retry-After`: too many failed sign-ins or key checks from this client.
    #[error("too many failed attempts from this client: try again in {0} s")]
    Throttled(i64),
    /// 429 with `Retry-After` (seconds): a limit of a public endpoint.
    #[error("{0}")]
    Limited(&'static str, i64),
    #[error("{0}")]
    Unavailable(String),
    /// 500: our fault. The cause is logged, never sent to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl ApiError {
    /// The error for a database failure shared by several callers (a `sqlx::Error` is not
    /// `Clone`): the same status `From<sqlx::Error>` gives; the caller logs it once.
    pub fn database(e: &sqlx::Error) -> Self {
        if database_unavailable(e) {
            Self::unavailable_database()
        } else {
            Self::Internal(anyhow::anyhow!("{e}"))
        }
    }

    /// Whether trying again later may succeed with the same input: the database
    /// unavailable, a deadlock, a serialization failure, a statement or lock timeout, or
    /// two writers racing for one new lead. Such a failure is not the message's fault: it
    /// is retried, never quarantined.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) | Self::Conflict("identity_race", _) => true,
            Self::Internal(cause) => cause
                .chain()
                .filter_map(|c| c.downcast_ref::<sqlx::Error>())
                .any(|e| {
                    refused_for_concurrency(e)
                        || matches!(e, sqlx::Error::Database(db)
                            if db.code().is_some_and(|c| matches!(c.as_ref(), "57014" | "55P03")))
                }),
            _ => false,
        }
    }

    pub fn unavailable_database() -> Self {
        Self::Unavailable("database is unavailable, try again shortly".into())
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Unprocessable("validation_failed", message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(..) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(..) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(..) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests(_) | Self::Throttled(_) | Self::Limited(..) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(c, _) | Self::Unprocessable(c, _) | Self::Conflict(c, _) => c,
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests(_) | Self::Throttled(_) | Self::Limited(..) => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
            },
        };
        let mut res = (self.status(), axum::Json(body)).into_response();
        let retry_after = match self {
            // Clients and proxies may retry shortly.
            Self::Unavailable(_) => Some(5),
            Self::Throttled(secs) | Self::Limited(_, secs) => Some(secs),
            _ => None,
        };
        if let Some(secs) = retry_after {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        res
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if database_unavailable(&e) {
            tracing::error!(error = %e, "database unavailable");
            return Self::unavailable_database();
        }
        Self::Internal(e.into())
    }
}

/// Failures that say the database cannot serve now (try again), not that the request is
/// wrong: no connection, the server shutting down or restarting (57P01–57P03), out of
/// disk, memory or connections (53100, 53200, 53300), a lost connection (class 08).
fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            matches!(
                c.as_ref(),
                "57P01" | "57P02" | "57P03" | "53100" | "53200" | "53300"
            ) || c.starts_with("08")
        }),
        _ => false,
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

/// What went wrong, in words for a person reading the quarantine or a sync status: the
/// message of an API error, the cause chain of an internal one (never a secret: causes are
/// database and parser errors).
pub fn describe(e: &ApiError) -> String {
    match e {
        ApiError::Internal(cause) => format!("{cause:#}"),
        other => other.to_string(),
    }
}

/// The name of the unique constraint a database error violated, if that is what it is.
/// Whether PostgreSQL refused the statement for a deadlock or a serialization failure:
/// nothing of it was written, and running it again may succeed.
pub fn refused_for_concurrency(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| matches!(c.as_ref(), "40001" | "40P01")))
}

pub fn unique_violation(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => db.constraint(),
        _ => None,
    }
}
