//! The terminal-token handler against the Odoo simulator: administrators get a token, others get 403.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lambda_http::Body;
use serde_json::{Value, json};
use terminal_host::token::{self, Secret, ShellMode};
use terminal_token::{Settings, TokenService, handle};

const KEY: &str = "function-test-key-0123456789abcdef-0123";

fn settings(url: &str) -> Settings {
    Settings {
        odoo_url: url.to_owned(),
        odoo_db: odoo_sim::DEFAULT_DB.to_owned(),
        secret: Secret::new(KEY).unwrap(),
        ttl: Duration::from_secs(45),
        ws_url: Some("wss://odoo.example.com/bitconn/terminal/ws".into()),
    }
}

async fn sim() -> odoo_sim::RunningSim {
    odoo_sim::start(odoo_sim::SimConfig::default()).await.unwrap()
}

#[tokio::test]
async fn an_administrator_gets_a_token_terminal_host_accepts() {
    let sim = sim().await;
    let service = TokenService::new(settings(&sim.url));
    for (password, mode) in [("admin", "bash"), (odoo_sim::DEFAULT_ADMIN_API_KEY, "odoo")] {
        let reply = service
            .issue(
                json!({"login": "admin", "password": password, "mode": mode})
                    .to_string()
                    .as_bytes(),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.body["ok"], true);
        assert_eq!(reply.body["ws_url"], "wss://odoo.example.com/bitconn/terminal/ws");
        let claims =
            token::verify(&Secret::new(KEY).unwrap(), reply.body["token"].as_str().unwrap()).unwrap();
        assert_eq!(claims.sub, "admin");
        assert_eq!(claims.shell, mode.parse::<ShellMode>().unwrap());
        assert_eq!(claims.exp - claims.iat, 45);
        assert_eq!(reply.body["expires_at"], json!(claims.exp));
    }
}

#[tokio::test]
async fn anyone_else_is_refused() {
    let sim = sim().await;
    let service = TokenService::new(settings(&sim.url));
    let issue = |body: Value| {
        let service = &service;
        async move { service.issue(body.to_string().as_bytes()).await }
    };
    let integrator = issue(json!({"login": "integrator", "password": "integrator"})).await;
    assert_eq!(
        (integrator.status, integrator.body["error"].as_str()),
        (403, Some("forbidden"))
    );
    assert!(integrator.body.get("token").is_none());
    let with_key =
        issue(json!({"login": "integrator", "password": odoo_sim::DEFAULT_INTEGRATOR_API_KEY})).await;
    assert_eq!(with_key.status, 403);

    let wrong = issue(json!({"login": "admin", "password": "wrong-password"})).await;
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let nobody = issue(json!({"login": "nobody", "password": "x"})).await;
    assert_eq!(nobody.status, 401);

    for bad in [
        json!({"login": "admin"}),
        json!({"login": "admin", "password": "admin", "ttl": 3600}),
    ] {
        assert_eq!(issue(bad).await.status, 400);
    }
    let zsh = issue(json!({"login": "admin", "password": "admin", "mode": "zsh"})).await;
    assert_eq!(
        (zsh.status, zsh.body["error"].as_str()),
        (400, Some("invalid_payload"))
    );
    assert_eq!(service.issue(b"{not json").await.status, 400);
    let long = issue(json!({"login": "admin", "password": "p".repeat(2000)})).await;
    assert_eq!(
        (long.status, long.body["error"].as_str()),
        (400, Some("invalid_payload"))
    );
    let message = long.body["message"].as_str().unwrap();
    assert!(message.contains("at most"), "{message}");
    let empty = issue(json!({"login": " ", "password": "admin"})).await;
    assert!(
        empty.body["message"].as_str().unwrap().contains("non-empty"),
        "{:?}",
        empty.body
    );
}

#[tokio::test]
async fn odoo_down_is_a_502() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let service = TokenService::new(settings(&url));
    let reply = service.issue(br#"{"login":"admin","password":"admin"}"#).await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (502, Some("odoo_unreachable"))
    );
}

#[tokio::test]
async fn the_lambda_adapter_takes_post_only() {
    let sim = sim().await;
    let service = TokenService::new(settings(&sim.url));
    let request = |method: &str, body: &str| {
        lambda_http::http::Request::builder()
            .method(method)
            .uri("/terminal/token")
            .body(Body::from(body))
            .unwrap()
    };
    let get = handle(&service, request("GET", "")).await.unwrap();
    assert_eq!(get.status(), 405);
    let post = handle(
        &service,
        request("POST", r#"{"login":"admin","password":"admin"}"#),
    )
    .await
    .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(post.headers()["cache-control"], "no-store");
    let body: Value = match post.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    assert_eq!(body["mode"], "bash");
}

#[test]
fn settings_need_odoo_and_a_long_key() {
    let lookup = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    };
    assert!(Settings::from_lookup(lookup(&[("ODOO_DB", "d"), ("WS_SECRET_KEY", KEY)])).is_err());
    assert!(
        Settings::from_lookup(lookup(&[
            ("ODOO_URL", "u"),
            ("ODOO_DB", "d"),
            ("WS_SECRET_KEY", "short")
        ]))
        .is_err()
    );
    let ttl = &[
        ("ODOO_URL", "u"),
        ("ODOO_DB", "d"),
        ("WS_SECRET_KEY", KEY),
        ("TERMINAL_TOKEN_TTL", "2h"),
    ];
    assert!(Settings::from_lookup(lookup(ttl)).is_err());
    let ok = Settings::from_lookup(lookup(&[
        ("ODOO_URL", "u"),
        ("ODOO_DB", "d"),
        ("WS_SECRET_KEY", KEY),
    ]))
    .unwrap();
    assert_eq!(ok.ttl, token::DEFAULT_TTL);
}
