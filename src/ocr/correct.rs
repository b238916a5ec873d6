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

/// A capital `O` next to a digit on a line that holds an `@` is a zero (`zhangwei6O@` →
/// `zhangwei60@`): Tesseract reads a zero among digits as `O`, and a capital letter inside
/// a digit group of an address is not what addresses hold.
#[must_use]
pub fn zero_among_digits(text: &str) -> String {
    text.lines()
        .map(|line| {
            if !line.contains('@') || !line.contains('O') {
                return line.to_string();
            }
            let chars: Vec<char> = line.chars().collect();
            chars
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    let digit = |j: Option<usize>| {
                        j.and_then(|j| chars.get(j))
                            .is_some_and(char::is_ascii_digit)
                    };
                    if c == 'O' && (digit(i.checked_sub(1)) || digit(i.checked_add(1))) {
                        '0'
                    } else {
                        c
                    }
                })
                .collect()
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
    if !d.contains('.') {
        // The dots were lost (`sinacom`): only an exact match without dots counts.
        let near: Vec<&String> = known.iter().filter(|k| k.replace('.', "") == d).collect();
        return match near.as_slice() {
            [one] => Some(one.as_str()),
            _ => None,
        };
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
        assert_eq!(
            correct_domain("ustleducn", &k),
            Some("ustl.edu.cn"),
            "dots lost"
        );
    }

    #[test]
    fn known_far_or_ambiguous_domains_are_left_alone() {
        let k = known();
        assert_eq!(correct_domain("qq.com", &k), None, "already known");
        assert_eq!(correct_domain("partner.com.cn", &k), None, "far from all");
        assert_eq!(
            correct_domain("qqcorn", &k),
            None,
            "dots lost and a misreading"
        );
        assert_eq!(correct_domain("localhost", &k), None);
        // `12.com` is one letter short of both.
        let two = ["126.com", "123.com"].map(String::from).to_vec();
        assert_eq!(
            correct_domain("12.com", &two),
            None,
            "near two known domains"
        );
    }

    #[test]
    fn capital_o_next_to_a_digit_is_a_zero_on_address_lines() {
        assert_eq!(
            zero_among_digits("zhangwei6O@gmail.com\nO2O 6O\nleo2010@qq.com DOS"),
            "zhangwei60@gmail.com\nO2O 6O\nleo2010@qq.com DOS"
        );
        assert_eq!(zero_among_digits("a6OO@qq.com"), "a60O@qq.com");
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
