//! The one reading of AWS SDK errors: the service's typed error code (what code decides on, never
//! the message text) and one line for people, with a hint for the codes users meet most.
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// What AWS (or the way to it) answered, kept as the `#[source]` of a module's error variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct AwsError {
    /// The service's error code (`NoSuchBucket`, `AccessDenied`, `ParameterNotFound`…), if it sent one.
    pub code: Option<String>,
    /// The HTTP status of the answer, when there was one (a HEAD answer has no body, so no code).
    pub status: Option<u16>,
    text: String,
}

impl AwsError {
    /// Reads an SDK error of any AWS service; `service` names the endpoint in transport errors
    /// ("cannot reach the S3 endpoint").
    pub fn from_sdk<E>(service: &str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(String::from);
        let status = err.raw_response().map(|r| r.status().as_u16());
        let text = match (&code, status, err) {
            // A HEAD answer has no body, so no code: its status is all the service said.
            (None, Some(s), SdkError::ServiceError(_)) => {
                format!("the service answered HTTP {s} without an error code")
            }
            _ => describe_service(service, err),
        };
        AwsError { code, status, text }
    }

    /// An answer made by hand (e.g. a per-object error inside a successful response, tests).
    pub fn new(code: Option<&str>, status: Option<u16>, text: impl Into<String>) -> Self {
        AwsError {
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

    /// Whether the service answered with error code `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// The AWS error code of an SDK error, if the service sent one.
pub fn error_code<E, R>(err: &SdkError<E, R>) -> Option<String>
where
    E: ProvideErrorMetadata,
{
    err.code().map(String::from)
}

/// What a user can do about an error code they meet often.
fn hint(code: &str) -> &'static str {
    match code {
        "NoSuchBucket" => " (the bucket does not exist)",
        "AccessDenied" | "Forbidden" | "AccessDeniedException" => {
            " (access denied: check the credentials' permissions)"
        }
        "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidToken"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId" => " (the AWS credentials were rejected)",
        _ => "",
    }
}

/// One line describing an SDK error: the service's code, message and a hint, or the transport
/// problem ("cannot reach the AWS endpoint: …").
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    describe_service("AWS", err)
}

/// [`describe`], naming `service` in transport errors ("cannot reach the S3 endpoint: …").
pub fn describe_service<E, R>(service: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(_) => match (err.code(), err.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}{}", hint(c)),
            (Some(c), None) => format!("{c}{}", hint(c)),
            _ => "the service failed without an error code (an internal error on its side)".into(),
        },
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            format!(
                "cannot reach the {service} endpoint: {}",
                DisplayErrorContext(err)
            )
        }
        _ => DisplayErrorContext(err).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_follow_the_code_not_the_text() {
        assert_eq!(hint("NoSuchBucket"), " (the bucket does not exist)");
        assert_eq!(hint("ExpiredToken"), " (the AWS credentials were rejected)");
        assert_eq!(hint("SlowDown"), "");
        let e = AwsError::new(Some("AccessDenied"), None, "AccessDenied: no");
        assert!(e.is("AccessDenied") && !e.is("NoSuchKey"));
        assert_eq!(e.to_string(), "AccessDenied: no");
    }
}
