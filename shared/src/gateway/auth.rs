//! Which credential a caller presented: `Authorization: Bearer`, else `Webhook-Key`, else `X-Webhook-Key`.

use http::HeaderMap;

/// The presented secret, looked up in the original's order. A non-empty Bearer token is final: a wrong one is
/// not retried against the other headers. Non-Bearer `Authorization` values are ignored.
pub fn presented_secret(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim_start().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    bearer.or_else(|| {
        ["webhook-key", "x-webhook-key"]
            .iter()
            .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()).map(str::trim))
            .find(|t| !t.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn bearer_first_then_webhook_key_then_x_webhook_key() {
        assert_eq!(
            presented_secret(&headers(&[("authorization", "Bearer abc"), ("webhook-key", "k")])),
            Some("abc")
        );
        assert_eq!(
            presented_secret(&headers(&[("authorization", "bearer   abc  ")])),
            Some("abc")
        );
        assert_eq!(
            presented_secret(&headers(&[("webhook-key", "k"), ("x-webhook-key", "x")])),
            Some("k")
        );
        assert_eq!(presented_secret(&headers(&[("x-webhook-key", "x")])), Some("x"));
    }

    #[test]
    fn empty_or_other_schemes_fall_through() {
        assert_eq!(
            presented_secret(&headers(&[("authorization", "Bearer "), ("webhook-key", "k")])),
            Some("k")
        );
        assert_eq!(
            presented_secret(&headers(&[
                ("authorization", "Basic Zm9v"),
                ("x-webhook-key", "x")
            ])),
            Some("x")
        );
        assert_eq!(presented_secret(&headers(&[])), None);
        assert_eq!(presented_secret(&headers(&[("webhook-key", "  ")])), None);
    }
}
