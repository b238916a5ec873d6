//! OCR confusions, fixed only where the right answer is known: an address whose domain is one
//! edit away from exactly one known domain (the institution's or a webmail provider's) gets
//! that domain. `rn` read for `m` counts as one edit; `l`, `1` and `I` differ by one
//! substitution. A domain that is known already, or near two known domains, is left alone.

/// Spaces OCR puts around `@` and `.` inside an address (`li . ming @ qq.com`), removed on
/// lines that hold an `@`.
#[must_use]
pub fn join_spaced(text: &str) -> String {
    text.lines()
        .map(|line| {
            if !line.contains('@') && !line.contains('＠') {
                return line.to_string();
            }
            let chars: Vec<char> = line.chars().collect();
            let mut out = String::with_capacity(line.len());
            for (i, &c) in chars.iter().enumerate() {
                if c == ' ' {
                    let prev = out.chars().last();
                    let next = chars[i + 1..].iter().find(|c| **c != ' ').copied();
                    let joins = |c: Option<char>| matches!(c, Some('@' | '.'));
                    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
                    if (joins(prev) && word(next))
                        || (word(prev) && joins(next))
                        || (digit(prev) && digit(next))
                    {
                        continue;
                    }
                }
                out.push(c);
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The known domain `domain` was most likely read for, when there is exactly one within one
/// edit; `None` when `domain` is known itself or ambiguous or too far.
#[must_use]
pub fn correct_domain<'k>(domain: &str, known: &'k [String]) -> Option<&'k str> {
    let d = domain.to_ascii_lowercase();
    if known.contains(&d) {
        return None;
    }
    let m = d.replace("rn", "m");
    let near: Vec<&String> = known
        .iter()
        .filter(|k| **k == m || within_one(&d, k))
        .collect();
    match near.as_slice() {
        [one] => Some(one.as_str()),
        _ => None,
    }
}

/// True when `a` and `b` differ by one substitution, insertion or deletion.
fn within_one(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    match long.len() - short.len() {
        0 => {
            short
                .iter()
                .zip(long.iter())
                .filter(|(x, y)| x != y)
                .count()
                == 1
        }
        1 => {
            let skip = short
                .iter()
                .zip(long.iter())
                .position(|(x, y)| x != y)
                .unwrap_or(short.len());
            short[skip..] == long[skip + 1..]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        ["qq.com", "163.com", "126.com", "ustl.edu.cn", "gmail.com"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn one_edit_from_one_known_domain_is_corrected() {
        let k = known();
        assert_eq!(correct_domain("qq.corn", &k), Some("qq.com"));
        assert_eq!(correct_domain("l63.com", &k), Some("163.com"));
        assert_eq!(correct_domain("ustI.edu.cn", &k), Some("ustl.edu.cn"));
        assert_eq!(correct_domain("gmai.com", &k), Some("gmail.com"));
        assert_eq!(correct_domain("qq.comm", &k), Some("qq.com"));
    }

    #[test]
    fn known_far_or_ambiguous_domains_are_left_alone() {
        let k = known();
        assert_eq!(correct_domain("qq.com", &k), None, "already known");
        assert_eq!(correct_domain("partner.com.cn", &k), None, "far from all");
        // `12.com` is one letter short of both.
        let two = ["126.com", "123.com"].map(String::from).to_vec();
        assert_eq!(
            correct_domain("12.com", &two),
            None,
            "near two known domains"
        );
    }

    #[test]
    fn spaces_around_at_and_dot_are_joined_on_address_lines() {
        assert_eq!(
            join_spaced("邮箱: li . ming @ qq.com\nMr. Li met at noon"),
            "邮箱: li.ming@qq.com\nMr. Li met at noon"
        );
        assert_eq!(join_spaced("li.ming3 7@126.com"), "li.ming37@126.com");
    }
}
