//! The SAM template passes `cfn-lint` and keeps the properties the deployment relies on.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

fn template() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml")
}

#[test]
fn cfn_lint_reports_no_errors() {
    let out = Command::new("cfn-lint")
        .arg(template())
        .output()
        .expect("cfn-lint is not installed; run scripts/ensure-tools.sh");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // cfn-lint exit codes are a bit mask: 2 = errors, 4 = warnings, 8 = informational.
    let code = out.status.code().unwrap();
    assert_eq!(code & 2, 0, "cfn-lint errors:\n{report}");
    assert!(code & 1 == 0, "cfn-lint failed to run:\n{report}");
}

#[test]
fn functions_are_arm64_cargo_lambda_builds_with_least_privilege() {
    let text = std::fs::read_to_string(template()).unwrap();
    assert!(text.contains("BuildMethod: rust-cargolambda"));
    assert!(text.contains("Runtime: provided.al2023"));
    assert!(text.contains("Architectures: [arm64]"));
    assert!(text.contains("TimeToLiveSpecification"));
    for wildcard in [
        "Action: \"*\"",
        "dynamodb:*",
        "Resource: \"*\"",
        "AmazonDynamoDBFullAccess",
    ] {
        assert!(!text.contains(wildcard), "over-broad permission `{wildcard}`");
    }
    for route in [
        "Path: /bitconn/webhook/{id}",
        "Path: /bitconn/webhook/{id}/schema",
        "Path: /bitconn/webhook/{id}/required",
        "Path: /bitconn/terminal/token",
    ] {
        assert!(text.contains(route), "missing route {route}");
    }
}
