//! "did you mean ...?": the closest known name to a misspelt one.
//!
//! A typo in a policy usually names something that exists one or two
//! keystrokes away (`ofice` for `office`, `alow` for `allow`); saying which
//! saves the admin a trip to the documentation. Far-off names get no
//! suggestion: a wrong guess is worse than none.

/// The known name closest to `wrong`, if one is close enough to be the
/// likely intent: same letters in another case, or an edit distance of at
/// most a third of the name (at least 1).
pub fn closest<'a>(wrong: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        if k.eq_ignore_ascii_case(wrong) {
            return Some(k);
        }
        let d = distance(wrong, k);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

/// Edit distance in characters, a swap of two neighbours counting as one
/// edit (optimal string alignment): `gaurd` is one typo from `guard`.
/// Names are short (at most 64 characters), so the full table is cheap.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_its_name_and_a_stranger_finds_none() {
        let zones = ["any", "loopback", "office", "admin"];
        assert_eq!(closest("ofice", zones), Some("office"));
        assert_eq!(closest("Office", zones), Some("office"));
        assert_eq!(closest("admins", zones), Some("admin"));
        assert_eq!(
            closest("alow", ["kind", "ports", "protocols", "allow"]),
            Some("allow")
        );
        assert_eq!(closest("gaurd", ["guard", "ledger"]), Some("guard"));
        assert_eq!(closest("warehouse", zones), None);
        assert_eq!(closest("", zones), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
