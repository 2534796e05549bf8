//! SQL `LIKE` pattern matching (`%`, `_`, backslash escapes), as PostgreSQL evaluates it.

/// Whether `text` matches the LIKE `pattern`; `ci` lowercases both (ILIKE).
pub fn like_match(text: &str, pattern: &str, ci: bool) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = if ci {
        (
            text.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        )
    } else {
        (text.chars().collect(), pattern.chars().collect())
    };
    matches(&t, &p)
}

fn matches(t: &[char], p: &[char]) -> bool {
    // Iterative matcher with backtracking on the last `%`.
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '%' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '_' => {
                    ti += 1;
                    pi += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    ti += 1;
                    pi += 2;
                    continue;
                }
                c if c == t[ti] => {
                    ti += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::like_match;

    #[test]
    fn wildcards() {
        assert!(like_match("94535", "%945_5%", false));
        assert!(!like_match("Azure", "%azure%", false));
        assert!(like_match("Azure", "%azure%", true));
        assert!(like_match("Deco Addict", "D%", false));
        assert!(!like_match("a_c", "a\\_d", false));
        assert!(like_match("a_c", "a\\_c", false));
        assert!(like_match("", "%", false));
    }
}
