//! Spreadsheets: xls and WPS et (BIFF8 in OLE), xlsx and ods, all through calamine (well kept,
//! reads all three families with Chinese sheet names and shared strings). One segment per
//! non-empty cell, located as `sheet 联系人!B2`.

use std::io::{Cursor, Read, Seek};

use calamine::{Data, Ods, Reader, Xls, Xlsx};

use super::{Ctx, DocProblem, Format, Sink};

/// Reads every sheet of a workbook.
pub(crate) fn extract(
    ctx: &Ctx<'_>,
    bytes: &[u8],
    format: Format,
    sink: &mut Sink,
) -> Result<(), DocProblem> {
    let what = format.as_str().to_uppercase();
    let cursor = Cursor::new(bytes);
    match format {
        Format::Xlsx => read(ctx, open::<Xlsx<_>>(cursor, &what)?, &what, sink),
        Format::Ods => read(ctx, open::<Ods<_>>(cursor, &what)?, &what, sink),
        _ => read(ctx, open::<Xls<_>>(cursor, &what)?, &what, sink),
    }
}

fn open<'b, R: Reader<Cursor<&'b [u8]>>>(
    cursor: Cursor<&'b [u8]>,
    what: &str,
) -> Result<R, DocProblem>
where
    R::Error: std::fmt::Display,
{
    R::new(cursor).map_err(|e| {
        let text = e.to_string();
        if text.contains("assword") || text.contains("ncrypt") {
            DocProblem::new("", "encrypted", format!("{what} is password-protected"))
        } else {
            DocProblem::new(
                "",
                "corrupt",
                format!("{what}: workbook unreadable: {text}"),
            )
        }
    })
}

fn read<RS: Read + Seek, R: Reader<RS>>(
    ctx: &Ctx<'_>,
    mut book: R,
    what: &str,
    sink: &mut Sink,
) -> Result<(), DocProblem>
where
    R::Error: std::fmt::Display,
{
    let names = book.sheet_names();
    for name in names {
        let sheet_loc = format!("sheet {name}");
        ctx.check_time(&sheet_loc)?;
        let range = match book.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => {
                sink.problem(DocProblem::new(
                    sheet_loc,
                    "corrupt",
                    format!("{what}: sheet unreadable: {e}"),
                ));
                continue;
            }
        };
        let (row0, col0) = range.start().unwrap_or((0, 0));
        for (n, (row, col, cell)) in range.used_cells().enumerate() {
            if n % 10_000 == 9_999 {
                ctx.check_time(&sheet_loc)?;
            }
            if sink.is_full() {
                return Ok(());
            }
            let text = match cell {
                Data::Empty => continue,
                Data::String(s) => s.clone(),
                other => other.to_string(),
            };
            let r = u64::from(row0) + row as u64 + 1;
            let c = u64::from(col0) + col as u64;
            sink.push(format!("sheet {name}!{}{r}", column_name(c)), text);
        }
    }
    Ok(())
}

/// 0 → `A`, 25 → `Z`, 26 → `AA`.
fn column_name(mut c: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + u8::try_from(c % 26).unwrap_or(0));
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_like_excel() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
    }
}
