//! Voting on several OCR readings of one line. Tesseract's misreadings of a local part
//! change with the scale and the model (`wu.xiaolis6` / `wu.xiaoli56`), its right reading
//! recurs, and the small punctuation of a local part (`.`, `_`, `-`) is what it drops most:
//! it seldom invents one. So readings are grouped by their address without that punctuation
//! (the skeleton); a skeleton seen in more than half of the readings that hold an address is
//! kept, with a separator wherever one of its readings saw one (the one seen most often
//! there). When no skeleton has a majority, nothing is kept and the line is reported for a
//! person to check: a wrong address is worse than a missing one, which `errors.csv` shows.

use std::collections::BTreeMap;

use crate::model::{Email, EmailCandidate};

const SEPARATORS: [char; 3] = ['.', '_', '-'];

/// The addresses most readings of a line agree on, and a note when they disagree. Each
/// reading is its confidence and the candidates found in it.
pub(super) fn vote(
    readings: Vec<(u8, Vec<EmailCandidate>)>,
) -> (Vec<EmailCandidate>, Option<String>) {
    let total = readings.len();
    let mut seen = 0usize;
    // Skeleton → (readings holding it, their confidences, their candidates).
    let mut groups: BTreeMap<String, (usize, u32, Vec<EmailCandidate>)> = BTreeMap::new();
    for (confidence, candidates) in readings {
        let mut here: BTreeMap<String, EmailCandidate> = BTreeMap::new();
        for c in candidates {
            here.entry(skeleton(&c.address.to_string())).or_insert(c);
        }
        if here.is_empty() {
            continue;
        }
        seen += 1;
        for (key, c) in here {
            let g = groups.entry(key).or_insert((0, 0, Vec::new()));
            g.0 += 1;
            g.1 += u32::from(confidence);
            g.2.push(c);
        }
    }
    absorb_cut_readings(&mut groups);
    let mut agreed = Vec::new();
    for (n, confidence_sum, group) in groups.values() {
        if *n == 0 || n * 2 <= seen {
            continue;
        }
        let merged = merge(group);
        let Some(mut best) = group
            .iter()
            .find(|c| c.address.to_string() == merged)
            .or_else(|| group.first())
            .cloned()
        else {
            continue;
        };
        if best.address.to_string() != merged
            && let Some(e) = Email::parse(&merged)
        {
            best.address = e;
        }
        let confidence = confidence_sum / u32::try_from(*n).unwrap_or(1).max(1);
        let corrected = best
            .evidence
            .as_deref()
            .and_then(|e| e.split_once("; "))
            .map(|(_, fix)| format!("; {fix}"))
            .unwrap_or_default();
        best.evidence = Some(format!(
            "OCR {confidence}%, {n} of {total} readings agree{corrected}"
        ));
        agreed.push(best);
    }
    let doubt = (agreed.is_empty() && seen > 0).then(|| {
        let mut options: Vec<(usize, String)> = groups
            .values()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, _, g)| (*n, merge(g)))
            .collect();
        options.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let list: Vec<String> = options
            .iter()
            .take(3)
            .map(|(n, a)| format!("{a} ({n} of {total})"))
            .collect();
        format!(
            "OCR readings of an address disagree: {}; check the image by eye",
            list.join(", ")
        )
    });
    (agreed, doubt)
}

/// A separator Tesseract read as a space cuts the local part (`wang fang50@163.com` gives
/// `fang50@163.com`): a reading whose address is the end of another group's address, where
/// that group's own readings show a separator right before that end, supports that group.
fn absorb_cut_readings(groups: &mut BTreeMap<String, (usize, u32, Vec<EmailCandidate>)>) {
    let keys: Vec<String> = groups.keys().cloned().collect();
    for short in &keys {
        let Some(long) = keys.iter().find(|long| {
            long.len() > short.len()
                && long.ends_with(short.as_str())
                && groups
                    .get(long.as_str())
                    .is_some_and(|(n, _, g)| *n > 0 && separator_before_end(&merge(g), short))
        }) else {
            continue;
        };
        let Some((n, confidence)) = groups.get(short.as_str()).map(|g| (g.0, g.1)) else {
            continue;
        };
        if let Some(g) = groups.get_mut(long.as_str()) {
            g.0 += n;
            g.1 += confidence;
        }
        if let Some(g) = groups.get_mut(short.as_str()) {
            g.0 = 0;
        }
    }
}

/// True when `address` (with separators) has a separator right before the part of it whose
/// skeleton is `end`.
fn separator_before_end(address: &str, end: &str) -> bool {
    let (local, _) = address.rsplit_once('@').unwrap_or((address, ""));
    let (end_local, _) = end.rsplit_once('@').unwrap_or((end, ""));
    let mut letters = 0;
    let total = local.chars().filter(|c| !SEPARATORS.contains(c)).count();
    let Some(start) = total.checked_sub(end_local.chars().count()) else {
        return false;
    };
    let mut previous = None;
    for ch in local.chars() {
        if SEPARATORS.contains(&ch) {
            previous = Some(ch);
            continue;
        }
        if letters == start {
            return previous.is_some();
        }
        previous = None;
        letters += 1;
    }
    false
}

/// The address without the separators of its local part, lowercased.
fn skeleton(address: &str) -> String {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    let core: String = local.chars().filter(|c| !SEPARATORS.contains(c)).collect();
    format!("{core}@{domain}").to_ascii_lowercase()
}

/// The address of a group of readings with one skeleton: each gap between two letters of
/// the local part gets the separator the readings saw there most often, if any saw one.
fn merge(group: &[EmailCandidate]) -> String {
    let Some(first) = group.first() else {
        return String::new();
    };
    let first = first.address.to_string();
    let Some((_, domain)) = first.rsplit_once('@') else {
        return first;
    };
    // Gap i is before the i-th letter of the skeleton (and after the last one at the end).
    let mut gaps: BTreeMap<usize, BTreeMap<char, usize>> = BTreeMap::new();
    let mut core = String::new();
    for c in group {
        let address = c.address.to_string();
        let local = address
            .rsplit_once('@')
            .map_or(address.as_str(), |(l, _)| l);
        let mut i = 0;
        let mut pending: Option<char> = None;
        let mut letters = String::new();
        for ch in local.chars() {
            if SEPARATORS.contains(&ch) {
                // Two separators in one gap (`liu.-yang`): the first is kept.
                pending.get_or_insert(ch);
                continue;
            }
            if let Some(sep) = pending.take() {
                *gaps.entry(i).or_default().entry(sep).or_default() += 1;
            }
            letters.push(ch);
            i += 1;
        }
        if core.is_empty() {
            core = letters;
        }
    }
    let mut out = String::new();
    for (i, ch) in core.chars().enumerate() {
        if i > 0
            && let Some(counts) = gaps.get(&i)
            && let Some((sep, _)) = counts.iter().max_by_key(|(_, n)| **n)
        {
            out.push(*sep);
        }
        out.push(ch);
    }
    format!("{out}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(confidence: u8, addresses: &[&str]) -> (u8, Vec<EmailCandidate>) {
        let found = addresses
            .iter()
            .flat_map(|a| crate::extract::find_addresses(a))
            .collect();
        (confidence, found)
    }

    fn addresses(v: &(Vec<EmailCandidate>, Option<String>)) -> Vec<String> {
        v.0.iter().map(|c| c.address.to_string()).collect()
    }

    #[test]
    fn the_majority_wins_and_says_how_many_agree() {
        let v = vote(vec![
            reading(90, &["zhangwei60@gmail.com"]),
            reading(80, &["zhangweigo@gmail.com"]),
            reading(70, &["zhangwei60@gmail.com"]),
            reading(10, &[]),
        ]);
        assert_eq!(addresses(&v), ["zhangwei60@gmail.com"]);
        assert_eq!(
            v.0[0].evidence.as_deref(),
            Some("OCR 80%, 2 of 4 readings agree")
        );
        assert_eq!(v.1, None);
    }

    #[test]
    fn a_separator_one_reading_saw_is_kept() {
        let v = vote(vec![
            reading(90, &["huangmin42@qq.com"]),
            reading(90, &["huang_min42@qq.com"]),
            reading(90, &["huangmin42@qq.com"]),
            reading(90, &["liu.ming@qq.com"]),
        ]);
        assert_eq!(addresses(&v), ["huang_min42@qq.com"]);
        let v = vote(vec![
            reading(90, &["liu.-yang@qq.com"]),
            reading(90, &["liu.yang@qq.com"]),
            reading(90, &["liuyang@qq.com"]),
        ]);
        assert_eq!(addresses(&v), ["liu.yang@qq.com"]);
    }

    #[test]
    fn a_local_part_cut_at_a_separator_supports_the_whole() {
        let v = vote(vec![
            reading(90, &["wang_fang50@163.com"]),
            reading(90, &["wang fang50@163.com"]),
            reading(90, &["wang fang50@163.com"]),
        ]);
        assert_eq!(addresses(&v), ["wang_fang50@163.com"]);
        // Without a separator seen at the cut, a longer reading is a label run into it.
        let v = vote(vec![
            reading(90, &["abfafang50@163.com"]),
            reading(90, &["fang50@163.com"]),
            reading(90, &["fang50@163.com"]),
        ]);
        assert_eq!(addresses(&v), ["fang50@163.com"]);
    }

    #[test]
    fn a_tie_keeps_nothing_and_asks_for_a_person() {
        let v = vote(vec![
            reading(90, &["wu.xiaolis6@qq.com"]),
            reading(90, &["wu.xiaoli56@qq.com"]),
        ]);
        assert!(v.0.is_empty());
        let doubt = v.1.unwrap_or_default();
        assert!(doubt.contains("wu.xiaoli56@qq.com (1 of 2)"), "{doubt}");
        assert!(doubt.contains("wu.xiaolis6@qq.com (1 of 2)"), "{doubt}");
    }

    #[test]
    fn two_addresses_on_one_line_are_both_kept() {
        let v = vote(vec![
            reading(90, &["a.li@qq.com b@163.com"]),
            reading(90, &["ali@qq.com b@163.com"]),
            reading(90, &["b@163.com"]),
        ]);
        assert_eq!(addresses(&v), ["a.li@qq.com", "b@163.com"]);
        assert_eq!(vote(Vec::new()).0.len(), 0);
    }
}
