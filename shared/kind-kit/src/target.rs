//! How a target answers, for each [`Transport`]: the one place that knows what each kind's client
//! expects on the wire.
//!
//! - [`Transport::Http`]: plain statuses and bodies; a throttled answer is `429` with
//!   `Retry-After: 1`, which the shared `HttpClient` reads.
//! - [`Transport::Ses`]: SES v2 (REST-JSON), as its SDK client reads it at
//!   `/v2/email/outbound-emails`: errors are a JSON `{"message": …}` with the code in the
//!   `x-amzn-ErrorType` header (`TooManyRequestsException` 429, `InternalFailure` 500,
//!   `BadRequestException` 400), success is `{"MessageId": …}`.
//! - [`Transport::SnsSms`]: SNS `Publish` (awsQuery, XML) at `/`: errors are an `ErrorResponse`
//!   with `Sender` (4xx) or `Receiver` (5xx) and the code `Throttling` (HTTP 400, as the Query
//!   API's common errors give it: a kind must read the code, as the SDK's own retry classifier
//!   does, not only the status), `InternalError` (500) or `InvalidParameter` (400); success is a
//!   `PublishResponse` with a `MessageId`.
//!
//! Every throttled answer also carries `Retry-After: 1`; only HTTP kinds can see it (see
//! [`Case::honours_retry_after`]).

use notify_core::Transport;
use serde_json::json;
use test_support::Reply;

/// What a target answers, in the terms of every transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Accepted; the text is the target's id for what it created (or the HTTP body).
    Success,
    /// Throttled: slow down, try again after `Retry-After` (1 s).
    Throttled,
    /// A server error (500).
    ServerError,
    /// The request is refused (400): trying again cannot help.
    ClientError,
}

/// What the kit knows about the targets of one transport.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The transport.
    pub transport: Transport,
    /// Whether a kind of this transport can honour `Retry-After`. The shared `HttpClient` reads the
    /// header and the runner waits at least that long; the AWS SDK clients expose no response
    /// header on an error (and SES and SNS send none), so an AWS kind's throttling waits the
    /// runner's backoff instead: the kit then only requires that it was retried and delivered.
    pub honours_retry_after: bool,
    /// The environment variable that points the kind's AWS client at a target when the `tocsin`
    /// command or a function builds it from the environment (`AWS_ENDPOINT_URL_SESV2`, …); none for
    /// HTTP, whose targets are in the definitions.
    pub endpoint_env: Option<&'static str>,
    answer: fn(Answer, &str) -> Reply,
}

impl Case {
    /// The target's reply giving `answer`, carrying `text` (the id of a success, the message of an
    /// error, or the whole body for HTTP).
    pub fn reply(&self, answer: Answer, text: &str) -> Reply {
        (self.answer)(answer, text)
    }
}

/// The case of `transport`. A transport added later is a compile error here until it has its case.
pub fn case(transport: Transport) -> Case {
    match transport {
        Transport::Http => Case {
            transport,
            honours_retry_after: true,
            endpoint_env: None,
            answer: |answer, text| match answer {
                Answer::Success => Reply::status(200).body(text),
                Answer::Throttled => Reply::status(429).header("Retry-After", "1").body(text),
                Answer::ServerError => Reply::status(500).body(text),
                Answer::ClientError => Reply::status(400).body(text),
            },
        },
        Transport::Ses => Case {
            transport,
            honours_retry_after: false,
            endpoint_env: Some("AWS_ENDPOINT_URL_SESV2"),
            answer: |answer, text| {
                let (status, code) = match answer {
                    Answer::Success => return Reply::json(200, &json!({ "MessageId": text })),
                    Answer::Throttled => (429, "TooManyRequestsException"),
                    Answer::ServerError => (500, "InternalFailure"),
                    Answer::ClientError => (400, "BadRequestException"),
                };
                let reply = Reply::json(status, &json!({ "message": text })).header("x-amzn-ErrorType", code);
                retry_after(answer, reply)
            },
        },
        Transport::SnsSms => Case {
            transport,
            honours_retry_after: false,
            endpoint_env: Some("AWS_ENDPOINT_URL_SNS"),
            answer: |answer, text| {
                let text = alert_model::escape::html(text);
                let (status, kind, code) = match answer {
                    Answer::Success => {
                        return Reply::status(200).header("content-type", "text/xml").body(format!(
                            "<PublishResponse><PublishResult><MessageId>{text}</MessageId></PublishResult>\
                             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>"
                        ));
                    }
                    Answer::Throttled => (400, "Sender", "Throttling"),
                    Answer::ServerError => (500, "Receiver", "InternalError"),
                    Answer::ClientError => (400, "Sender", "InvalidParameter"),
                };
                let reply = Reply::status(status).header("content-type", "text/xml").body(format!(
                    "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{text}</Message></Error>\
                     <RequestId>r</RequestId></ErrorResponse>"
                ));
                retry_after(answer, reply)
            },
        },
    }
}

/// `Retry-After: 1` on a throttled answer.
fn retry_after(answer: Answer, reply: Reply) -> Reply {
    if answer == Answer::Throttled {
        reply.header("Retry-After", "1")
    } else {
        reply
    }
}
