//! Reading numbers and lists of numbers typed into the form.

use std::str::FromStr;

/// One value, or a message naming the field and what was typed.
pub fn parse_one<T: FromStr>(field: &str, text: &str) -> Result<T, String> {
    let t = text.trim();
    t.parse::<T>()
        .map_err(|_| format!("{field} must be a number, got \"{t}\"."))
}

/// A comma-separated list (spaces and semicolons also separate), without repeats, in the
/// order typed; an empty list is refused.
pub fn parse_list<T: FromStr + PartialEq>(field: &str, text: &str) -> Result<Vec<T>, String> {
    let mut out: Vec<T> = Vec::new();
    for part in text
        .split([',', ';', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let value = parse_one(field, part)?;
        if !out.contains(&value) {
            out.push(value);
        }
    }
    if out.is_empty() {
        return Err(format!("{field}: give at least one value."));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_commas_and_spaces_and_drop_repeats() {
        assert_eq!(
            parse_list::<usize>("Ranks", "10, 20,20 40").unwrap(),
            vec![10, 20, 40]
        );
        assert_eq!(
            parse_list::<f64>("Reg", " 0.05;0.1 ").unwrap(),
            vec![0.05, 0.1]
        );
    }

    #[test]
    fn bad_values_name_the_field_and_the_text() {
        assert_eq!(
            parse_list::<usize>("Ranks", "10, x").unwrap_err(),
            "Ranks must be a number, got \"x\"."
        );
        assert_eq!(
            parse_list::<usize>("Ranks", " , ").unwrap_err(),
            "Ranks: give at least one value."
        );
        assert_eq!(
            parse_one::<usize>("Rank", "2.5").unwrap_err(),
            "Rank must be a number, got \"2.5\"."
        );
    }
}
