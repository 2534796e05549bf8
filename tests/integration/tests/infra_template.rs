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
        "kms:*",
        "Resource: \"*\"",
        "AmazonDynamoDBFullAccess",
    ] {
        assert!(!text.contains(wildcard), "over-broad permission `{wildcard}`");
    }
    // Credentials are sealed with a KMS key of the stack: the functions may only Decrypt with it, and only
    // data keys bound to a webhook; GenerateDataKey is for operators (the CLI writes webhooks).
    assert!(text.contains("Type: AWS::KMS::Key") && text.contains("EnableKeyRotation: true"));
    assert!(text.contains("BITCONN_SEAL: !Sub \"kms:${CredentialsKey.Arn}\""));
    assert_eq!(
        text.matches("Action: [kms:Decrypt]").count(),
        2,
        "inbound and schema open credentials"
    );
    assert_eq!(
        text.matches("kms:GenerateDataKey").count(),
        1,
        "only the operator policy seals"
    );
    assert_eq!(
        text.matches("Resource: !GetAtt CredentialsKey.Arn").count(),
        3,
        "every KMS permission names the key"
    );
    for route in [
        "Path: /bitconn/webhook/{id}",
        "Path: /bitconn/webhook/{id}/schema",
        "Path: /bitconn/webhook/{id}/required",
        "Path: /bitconn/terminal/token",
    ] {
        assert!(text.contains(route), "missing route {route}");
    }
}
