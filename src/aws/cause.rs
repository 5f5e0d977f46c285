//! An AWS SDK error kept as a typed cause: the service's error code and the HTTP status, for
//! deciding by them (never by the message), and the one-line text for people.
use aws_sdk_ssm::config::http::HttpResponse;

/// What the service (or the transport) said.
#[derive(Debug, thiserror::Error)]
#[error("{text}")]
pub struct AwsCause {
    /// The service's error code (`AccessDenied`, `ValidationError`, …), when it sent one.
    pub code: Option<String>,
    /// The HTTP status of the answer, when there was one.
    pub status: Option<u16>,
    text: String,
}

impl AwsCause {
    pub fn from_sdk<E>(err: &aws_sdk_ssm::error::SdkError<E, HttpResponse>) -> Self
    where
        E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = super::error_code(err);
        let status = err.raw_response().map(|r| r.status().as_u16());
        let text = match (&code, status, err) {
            // A HEAD answer has no body, so no code: its status is all the service said.
            (None, Some(s), aws_sdk_ssm::error::SdkError::ServiceError(_)) => {
                format!("the service answered HTTP {s} without an error code")
            }
            _ => super::describe(err),
        };
        AwsCause { code, status, text }
    }

    /// A cause made by hand (tests, and errors that are not the SDK's).
    pub fn new(code: Option<&str>, status: Option<u16>, text: impl Into<String>) -> Self {
        AwsCause {
            code: code.map(String::from),
            status,
            text: text.into(),
        }
    }

    /// Whether the service said the thing asked for is not there (HTTP 404, or a `NotFound`/
    /// `NoSuchKey` code): not a denial, a throttle or a transport failure.
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404) || matches!(self.code.as_deref(), Some("NotFound" | "NoSuchKey"))
    }
}
