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
        3,
        "inbound, schema and trigger open credentials"
    );
    assert_eq!(
        text.matches("kms:GenerateDataKey").count(),
        3,
        "only the operator policy seals, dispatch when 410 Gone rewrites a webhook, poll when a cursor moves"
    );
    assert_eq!(
        text.matches("Resource: !GetAtt CredentialsKey.Arn").count(),
        6,
        "every KMS permission names the key"
    );
    for route in [
        "Path: /bitconn/webhook/{id}",
        "Path: /bitconn/webhook/{id}/schema",
        "Path: /bitconn/webhook/{id}/required",
        "Path: /bitconn/terminal/token",
        "Path: /bitconn/outbound/{id}",
        "Path: /bitconn/outbound/{id}/{key}",
    ] {
        assert!(text.contains(route), "missing route {route}");
    }
}

/// The lines of resource `name`: those after its `  Name:` line that are indented deeper.
fn resource(text: &str, name: &str) -> String {
    let header = format!("  {name}:");
    let mut lines = text.lines().skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "no resource {name}");
    lines
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_outbound_queue_has_a_dead_letter_queue_and_each_function_only_what_it_needs() {
    let text = std::fs::read_to_string(template()).unwrap();
    for queue in ["OutboundQueue", "OutboundFifoQueue"] {
        let body = resource(&text, queue);
        assert!(
            body.contains("RedrivePolicy:") && body.contains("maxReceiveCount: 30"),
            "{queue}:\n{body}"
        );
    }
    assert!(resource(&text, "OutboundFifoQueue").contains("FifoQueue: true"));
    assert!(resource(&text, "OutboundFifoQueue").contains("Condition: WithOrderedDelivery"));
    assert!(resource(&text, "DeliveriesTable").contains("TimeToLiveSpecification"));

    let trigger = resource(&text, "TriggerFunction");
    let sqs_actions: Vec<&str> = trigger.matches("sqs:").collect();
    assert!(trigger.contains("Action: [sqs:SendMessage]"), "{trigger}");
    assert_eq!(
        sqs_actions.len(),
        3,
        "SendMessage, and the two sqs: specs in BITCONN_QUEUE:\n{trigger}"
    );
    assert!(!trigger.contains("DeliveriesTable"));

    let dispatch = resource(&text, "DispatchFunction");
    for needed in [
        "Action: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility, sqs:GetQueueAttributes]",
        "Resource: !GetAtt DeliveriesTable.Arn",
        "FunctionResponseTypes: [ReportBatchItemFailures]",
    ] {
        assert!(dispatch.contains(needed), "dispatch lacks {needed}:\n{dispatch}");
    }
    let poll = resource(&text, "PollFunction");
    for needed in [
        "ScheduleExpression: rate(1 minute)",
        "Action: [sqs:SendMessage]",
        "Action: [dynamodb:Scan, dynamodb:GetItem, dynamodb:PutItem]",
    ] {
        assert!(poll.contains(needed), "poll lacks {needed}:\n{poll}");
    }
    assert!(
        !poll.contains("sqs:ReceiveMessage") && !poll.contains("DeliveriesTable"),
        "{poll}"
    );
    let fifo_mapping = resource(&text, "DispatchFifoJobs");
    assert!(fifo_mapping.contains("BatchSize: 1") && fifo_mapping.contains("ReportBatchItemFailures"));
}
