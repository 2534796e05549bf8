//! The browser page and its assets, compiled into the binary: nothing is fetched at run time.

/// A static file the host serves.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static [u8],
}

const INDEX: Asset = Asset {
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../assets/index.html"),
};

const ASSETS: &[(&str, Asset)] = &[
    ("/", INDEX),
    ("/index.html", INDEX),
    (
        "/app.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../assets/app.js"),
        },
    ),
    (
        "/app.css",
        Asset {
            content_type: CSS,
            body: include_bytes!("../assets/app.css"),
        },
    ),
    (
        "/vendor/xterm.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../assets/vendor/xterm.js"),
        },
    ),
    (
        "/vendor/xterm.css",
        Asset {
            content_type: CSS,
            body: include_bytes!("../assets/vendor/xterm.css"),
        },
    ),
    (
        "/vendor/addon-fit.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../assets/vendor/addon-fit.js"),
        },
    ),
];

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Same-origin scripts, styles and sockets only; no framing (the page types into a root shell).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The asset at `path` (the query string already removed), if any.
pub fn lookup(path: &str) -> Option<Asset> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_page_and_vendored_xterm() {
        let index = lookup("/").unwrap();
        assert!(index.content_type.starts_with("text/html"));
        let html = std::str::from_utf8(index.body).unwrap();
        for src in [
            "vendor/xterm.js",
            "vendor/addon-fit.js",
            "app.js",
            "vendor/xterm.css",
            "app.css",
        ] {
            assert!(html.contains(src), "{src} not referenced");
            assert!(lookup(&format!("/{src}")).is_some(), "{src} not served");
        }
        assert!(lookup("/../Cargo.toml").is_none());
        assert!(lookup("/vendor/").is_none());
    }
}
