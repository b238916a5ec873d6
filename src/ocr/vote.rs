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

/// The vote on the usual readings of a line; when they disagree, the vote on them with the
/// second opinions (`second`, read only then) added — except when the options differ only
/// where one reads a digit and another a letter: the other models, trained on words, lean to
/// the letter there (`zhao.leil7` for `zhao.lei17`), so their opinion would decide wrongly
/// and the line stays in doubt.
pub(super) fn vote_with_second_opinions(
    usual: Vec<(u8, Vec<EmailCandidate>)>,
    second: Vec<(u8, Vec<EmailCandidate>)>,
) -> (Vec<EmailCandidate>, Option<String>) {
    if second.is_empty() || !needs_second_opinion(&usual) {
        return vote(usual);
    }
    let mut all = usual;
    all.extend(second);
    vote(all)
}

/// True when the usual readings of a line disagree in a way second opinions may settle.
pub(super) fn needs_second_opinion(usual: &[(u8, Vec<EmailCandidate>)]) -> bool {
    if vote(usual.to_vec()).1.is_none() {
        return false;
    }
    let options: Vec<String> = usual
        .iter()
        .flat_map(|(_, cs)| cs.iter().map(|c| skeleton(&c.address.to_string())))
        .collect();
    !letter_or_digit_only(&options)
}

/// True when two of `options` (skeletons) differ and every difference between any two of the
/// same length is a digit against a letter.
fn letter_or_digit_only(options: &[String]) -> bool {
    let mut any = false;
    for (i, a) in options.iter().enumerate() {
        for b in &options[i + 1..] {
            if a == b || a.chars().count() != b.chars().count() {
                continue;
            }
            let differ = a.chars().zip(b.chars()).filter(|(x, y)| x != y);
            let mut n = 0;
            for (x, y) in differ {
                n += 1;
                if x.is_ascii_digit() == y.is_ascii_digit() {
                    return false;
                }
            }
            any |= n > 0;
        }
    }
    any
}

/// When `thin` (a reading of the line with thin strokes) splits the local part of
/// `address` with a space between two letters where `address` has no separator, the split
/// words (`ma qiang35`): a dot joined to the letter before it, lost by every usual reading,
/// shows as such a gap once the strokes are thinner. Gaps next to a digit are not counted
/// (Tesseract splits digit groups: `zhoujie3 1`).
pub(super) fn gap_without_separator(address: &str, thin: &str) -> Option<String> {
    let (local, _) = address.rsplit_once('@')?;
    let skeleton: Vec<char> = local
        .chars()
        .filter(|c| !SEPARATORS.contains(c))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    // Gaps (before the i-th letter of the skeleton) where `address` has a separator.
    let mut separated = Vec::new();
    let mut i = 0;
    for ch in local.chars() {
        if SEPARATORS.contains(&ch) {
            separated.push(i);
        } else {
            i += 1;
        }
    }
    for line in thin.lines() {
        let mut from = 0;
        while let Some(at) = line[from..].find('@').map(|k| k + from) {
            from = at + 1;
            // The words right before the `@`, last first, while they end the skeleton.
            let mut covered = 0;
            let mut gaps = Vec::new();
            let mut words: Vec<&str> = Vec::new();
            for word in line[..at].split(' ').rev() {
                let letters: Vec<char> = word
                    .chars()
                    .filter(|c| !SEPARATORS.contains(c))
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                if letters.is_empty() || covered + letters.len() > skeleton.len() {
                    break;
                }
                let start = skeleton.len() - covered - letters.len();
                if skeleton[start..skeleton.len() - covered] != letters[..] {
                    break;
                }
                if covered > 0 {
                    gaps.push(skeleton.len() - covered);
                }
                covered += letters.len();
                words.push(word);
                if covered == skeleton.len() {
                    break;
                }
            }
            if covered != skeleton.len() {
                continue;
            }
            let lost = gaps.iter().any(|&g| {
                !separated.contains(&g)
                    && skeleton[g - 1].is_ascii_alphabetic()
                    && skeleton[g].is_ascii_alphabetic()
            });
            if lost {
                words.reverse();
                return Some(words.join(" "));
            }
        }
    }
    None
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
    fn second_opinions_decide_a_tie_unless_it_is_a_letter_against_a_digit() {
        let usual = vec![
            reading(90, &["linua@163.com"]),
            reading(90, &["lihua@163.com"]),
        ];
        let second = vec![
            reading(90, &["lihua@163.com"]),
            reading(90, &["lihua@163.com"]),
            reading(90, &["lhhua@163.com"]),
        ];
        let v = vote_with_second_opinions(usual.clone(), second.clone());
        assert_eq!(addresses(&v), ["lihua@163.com"]);
        assert_eq!(v.1, None);
        // Without second opinions, the tie stays.
        assert!(vote_with_second_opinions(usual, Vec::new()).0.is_empty());
        // A majority of the usual readings is not reopened.
        let v = vote_with_second_opinions(
            vec![reading(90, &["lihua@163.com"])],
            vec![
                reading(90, &["linua@163.com"]),
                reading(90, &["linua@163.com"]),
            ],
        );
        assert_eq!(addresses(&v), ["lihua@163.com"]);
        // `l` against `1`: the second opinions do not decide.
        let v = vote_with_second_opinions(
            vec![
                reading(90, &["zhao.leil7@qq.com"]),
                reading(90, &["zhao.lei17@qq.com"]),
            ],
            vec![
                reading(90, &["zhao.leil7@qq.com"]),
                reading(90, &["zhao.leil7@qq.com"]),
            ],
        );
        assert!(v.0.is_empty());
        assert!(v.1.is_some());
    }

    #[test]
    fn a_gap_between_letters_where_the_address_has_no_separator_is_found() {
        let gap = gap_without_separator;
        assert_eq!(
            gap("maqiang35@qq.com", "ma qiang35@qq.com").as_deref(),
            Some("ma qiang35")
        );
        assert_eq!(
            gap("maqiang35@qq.com", "x\n邮箱: Ma qiang35@iqq.com").as_deref(),
            Some("Ma qiang35"),
            "another line, another case, another domain"
        );
        // The gap is where the address has its separator.
        assert_eq!(gap("ma.qiang35@qq.com", "ma qiang35@qq.com"), None);
        assert_eq!(gap("wang_fang@qq.com", "wang fang@qq.com"), None);
        // Next to a digit: Tesseract splits digit groups.
        assert_eq!(gap("zhoujie31@qq.com", "zhoujie3 1@qq.com"), None);
        assert_eq!(gap("chenjing16@qq.com", "chenjing 16@qq.com"), None);
        // Words that do not spell the local part: a label, another reading.
        assert_eq!(gap("maqiang35@qq.com", "ma giang35@qq.com"), None);
        assert_eq!(gap("qiang35@qq.com", "ma qiang35@qq.com"), None);
        assert_eq!(gap("maqiang35@qq.com", "maqiang35@qq.com"), None);
        assert_eq!(gap("maqiang35@qq.com", "no address"), None);
        assert_eq!(gap("maqiang35@qq.com", ""), None);
    }

    #[test]
    fn letter_against_digit() {
        let s = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert!(letter_or_digit_only(&s(&["lei17@a", "leil7@a", "lei17@a"])));
        assert!(letter_or_digit_only(&s(&["lis6@a", "li56@a", "x@a"])));
        assert!(!letter_or_digit_only(&s(&["linua@a", "lihua@a"])));
        assert!(!letter_or_digit_only(&s(&["lis6@a", "li56@a", "lin6@a"])));
        assert!(
            !letter_or_digit_only(&s(&["sunli@a", "li@a"])),
            "nothing of one length"
        );
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
