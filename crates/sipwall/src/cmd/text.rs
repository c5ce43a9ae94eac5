//! Text for people: rows in aligned columns, durations in the two largest
//! units. What `status`, `bans list`, `calls` and `init` print.

/// A duration as people read it in a column: the two largest units,
/// `3h12m`, `42s`, `2d4h`.
pub fn compact(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut out = String::new();
    let mut rest = s;
    let mut shown = 0;
    for (size, name) in units {
        if rest >= size || (shown == 0 && size == 1) {
            out.push_str(&format!("{}{name}", rest / size));
            rest %= size;
            shown += 1;
            if shown == 2 {
                break;
            }
        } else if shown == 1 {
            break;
        }
    }
    out
}

/// Rows aligned in columns (the last one is not padded).
pub fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut width = [0; N];
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = width[i]));
            }
        }
        out.push('\n');
    }
    out
}
