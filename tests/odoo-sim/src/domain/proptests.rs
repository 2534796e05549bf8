//! Property tests of the domain parser: any token list is parsed or refused without panicking, parsed trees stay
//! shallow, and flattening keeps the meaning of Odoo's prefix notation.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::parse::{MAX_DOMAIN_DEPTH, MAX_DOMAIN_ITEMS};
use super::{Node, parse};

/// Number of distinct leaves; leaf `k` is `["x", "=", k]` and is true when bit `k` of the assignment is set.
const VARS: i64 = 6;

#[derive(Debug, Clone)]
enum Tok {
    And,
    Or,
    Not,
    Leaf(i64),
}

fn tok() -> impl Strategy<Value = Tok> {
    prop_oneof![
        3 => Just(Tok::And),
        3 => Just(Tok::Or),
        2 => Just(Tok::Not),
        4 => (0..VARS).prop_map(Tok::Leaf),
    ]
}

/// Runs of one token, so that long same-operator chains (the common shape) show up next to mixed ones.
fn tokens(max_runs: usize) -> impl Strategy<Value = Vec<Tok>> {
    prop::collection::vec((tok(), 1usize..200), 0..max_runs).prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(t, n)| std::iter::repeat_n(t, n))
            .collect()
    })
}

/// Appends the leaves Odoo's arity count still expects, so the list is a valid domain.
fn complete(mut toks: Vec<Tok>) -> Vec<Tok> {
    let mut expected: i64 = 1;
    for t in &toks {
        if expected == 0 {
            expected = 1;
        }
        expected += match t {
            Tok::And | Tok::Or => 1,
            Tok::Not => 0,
            Tok::Leaf(_) => -1,
        };
    }
    for i in 0..expected {
        toks.push(Tok::Leaf(i % VARS));
    }
    toks
}

fn to_json(toks: &[Tok]) -> Value {
    Value::Array(
        toks.iter()
            .map(|t| match t {
                Tok::And => json!("&"),
                Tok::Or => json!("|"),
                Tok::Not => json!("!"),
                Tok::Leaf(k) => json!(["x", "=", k]),
            })
            .collect(),
    )
}

/// Odoo's reading of a prefix domain, without building a tree: implicit `&` in front, then a right-to-left stack.
fn reference(toks: &[Tok], mask: u32) -> bool {
    let mut normalised: Vec<&Tok> = Vec::new();
    let mut implicit = 0;
    let mut expected: i64 = 1;
    for t in toks {
        if expected == 0 {
            implicit += 1;
            expected = 1;
        }
        expected += match t {
            Tok::And | Tok::Or => 1,
            Tok::Not => 0,
            Tok::Leaf(_) => -1,
        };
        normalised.push(t);
    }
    let and = Tok::And;
    let all = std::iter::repeat_n(&and, implicit).chain(normalised);
    let mut stack: Vec<bool> = Vec::new();
    for t in all.collect::<Vec<_>>().into_iter().rev() {
        match t {
            Tok::Leaf(k) => stack.push(mask & (1 << k) != 0),
            Tok::Not => {
                let a = stack.pop().unwrap_or(true);
                stack.push(!a);
            }
            Tok::And | Tok::Or => {
                let a = stack.pop().unwrap_or(true);
                let b = stack.pop().unwrap_or(true);
                stack.push(if matches!(t, Tok::And) { a && b } else { a || b });
            }
        }
    }
    stack.pop().unwrap_or(true)
}

fn eval(node: &Node, mask: u32) -> bool {
    match node {
        Node::True => true,
        Node::False => false,
        Node::Not(n) => !eval(n, mask),
        Node::And(v) => v.iter().all(|n| eval(n, mask)),
        Node::Or(v) => v.iter().any(|n| eval(n, mask)),
        Node::Leaf(l) => l.value.as_i64().is_some_and(|k| mask & (1 << k) != 0),
    }
}

/// Depth of a tree, measured without recursion.
fn depth(node: &Node) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(node, 1usize)];
    while let Some((n, d)) = todo.pop() {
        deepest = deepest.max(d);
        match n {
            Node::Not(c) => todo.push((c, d + 1)),
            Node::And(v) | Node::Or(v) => todo.extend(v.iter().map(|c| (c, d + 1))),
            Node::Leaf(l) => {
                if let Some(sub) = &l.sub {
                    todo.push((sub, d + 1));
                }
            }
            Node::True | Node::False => {}
        }
    }
    deepest
}

fn refused_for_size(message: &str) -> bool {
    message.starts_with("Domain too long") || message.starts_with("Domain nested too deeply")
}

/// Anything a caller might put in a domain list.
fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!("&")),
        Just(json!("|")),
        Just(json!("!")),
        Just(json!("^")),
        Just(json!(["id", "=", 1])),
        Just(json!(["parent_id.parent_id.name", "ilike", "a"])),
        Just(json!(["id", "in", 3])),
        Just(json!([1, "=", 1])),
        Just(json!([])),
        Just(json!(null)),
        Just(json!(7)),
        Just(json!({"a": 1})),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(inner, 0..8).prop_map(|d| json!(["child_ids", "any", d])),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn flattened_trees_mean_what_the_prefix_list_means(toks in tokens(40), masks in prop::collection::vec(0u32..64, 8)) {
        let toks = complete(toks);
        let domain = to_json(&toks);
        match parse(&domain) {
            Ok(node) => {
                prop_assert!(depth(&node) <= MAX_DOMAIN_DEPTH + 1);
                for mask in masks {
                    prop_assert_eq!(eval(&node, mask), reference(&toks, mask));
                }
            }
            Err(e) => prop_assert!(refused_for_size(&e.message), "{}", e.message),
        }
    }

    #[test]
    fn long_lists_are_parsed_or_refused(toks in tokens(400)) {
        let toks = complete(toks);
        let result = parse(&to_json(&toks));
        if toks.len() > MAX_DOMAIN_ITEMS {
            prop_assert!(result.is_err());
        }
        if let Ok(node) = result {
            prop_assert!(depth(&node) <= MAX_DOMAIN_DEPTH + 1);
        }
    }

    #[test]
    fn junk_never_panics(items in prop::collection::vec(junk(), 0..64)) {
        if let Ok(node) = parse(&Value::Array(items)) {
            prop_assert!(depth(&node) <= MAX_DOMAIN_DEPTH + 2);
        }
    }
}
