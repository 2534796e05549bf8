//! The AWS SDK's HTTP client over reqwest with the process's shared TLS configuration: one root store for
//! Odoo and AWS, and no connector built (nor certificate read) when a client is created.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use std::time::Duration;

/// The SDK's own default connect timeout (its per-request setting cannot change reqwest's, which is per client).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// Largest AWS answer read; a DynamoDB page is at most 1 MB, a KMS answer a few KB.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Hands the SDK one reqwest client (one pool) for every AWS service the process calls.
#[derive(Clone, Debug)]
pub(crate) struct ReqwestHttpClient {
    http: reqwest::Client,
}

impl ReqwestHttpClient {
    pub(crate) fn new() -> Result<Self, String> {
        let http = crate::odoo::tls::http_client_builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http })
    }
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            http: self.http.clone(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    http: reqwest::Client,
    /// Applied to the whole exchange (reqwest has no per-request read timeout); the SDK sets none by default.
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let http = self.http.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move { send(&http, request, read_timeout).await })
    }
}

async fn send(
    http: &reqwest::Client,
    request: HttpRequest,
    read_timeout: Option<Duration>,
) -> Result<HttpResponse, ConnectorError> {
    let method = reqwest::Method::from_bytes(request.method().as_bytes())
        .map_err(|e| ConnectorError::user(e.into()))?;
    // AWS JSON requests are in memory; a streaming body (S3 uploads) is not something this gateway sends.
    let body = request
        .body()
        .bytes()
        .ok_or_else(|| ConnectorError::user("streaming request bodies are not supported".into()))?
        .to_vec();
    let mut builder = http.request(method, request.uri());
    for (name, value) in request.headers().iter() {
        builder = builder.header(name, value);
    }
    if let Some(timeout) = read_timeout {
        builder = builder.timeout(timeout);
    }
    let mut response = builder.body(body).send().await.map_err(transport)?;
    let status = StatusCode::try_from(response.status().as_u16())
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    let mut answer = HttpResponse::new(status, SdkBody::empty());
    for (name, value) in response.headers() {
        // Headers that are not UTF-8 mean nothing to the SDK's parsers; they are left out.
        let _ = answer.headers_mut().try_append(name.clone(), value.clone());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ConnectorError::other(
                format!("AWS answer larger than {MAX_RESPONSE_BYTES} bytes").into(),
                None,
            ));
        }
        body.extend_from_slice(&chunk);
    }
    *answer.body_mut() = SdkBody::from(body);
    Ok(answer)
}

/// Timeouts and broken connections as the SDK's retry strategy expects them.
fn transport(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP/1.1 server on loopback answering `body` with `status`; returns its URL and the request.
    async fn serve_once(status: u16, body: Vec<u8>) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 64 * 1024];
            let n = socket.read(&mut request).await.unwrap();
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nx-amzn-requestid: r1\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            let _ = socket.write_all(&body).await;
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        (url, task)
    }

    fn connector() -> Connector {
        Connector {
            http: ReqwestHttpClient::new().unwrap().http,
            read_timeout: Some(Duration::from_secs(10)),
        }
    }

    fn request(url: &str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from("{\"TableName\":\"t\"}"));
        request.set_uri(url).unwrap();
        request.set_method("POST").unwrap();
        request
            .headers_mut()
            .insert("x-amz-target", "DynamoDB_20120810.GetItem");
        request
    }

    #[tokio::test]
    async fn requests_and_answers_pass_through_whole() {
        let (url, server) = serve_once(400, b"{\"__type\":\"ResourceNotFoundException\"}".to_vec()).await;
        let answer = connector().call(request(&url)).await.unwrap();
        assert_eq!(answer.status().as_u16(), 400);
        assert_eq!(answer.headers().get("x-amzn-requestid"), Some("r1"));
        assert_eq!(
            answer.body().bytes(),
            Some(&b"{\"__type\":\"ResourceNotFoundException\"}"[..])
        );
        let seen = server.await.unwrap().to_ascii_lowercase();
        assert!(seen.starts_with("post / http/1.1"), "{seen}");
        assert!(seen.contains("x-amz-target: dynamodb_20120810.getitem"), "{seen}");
        assert!(seen.ends_with("{\"tablename\":\"t\"}"), "{seen}");
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_is_refused() {
        let (url, _server) = serve_once(200, vec![b'x'; MAX_RESPONSE_BYTES + 1]).await;
        let error = connector().call(request(&url)).await.unwrap_err();
        assert!(
            error.to_string().contains("larger than") || format!("{error:?}").contains("larger than"),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_the_sdk_retries() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let error = connector().call(request(&url)).await.unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }
}
