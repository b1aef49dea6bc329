//! JSONL knowledge files: one object per line, `{"question", "answer", "title"?, "tags"?,
//! "enabled"?}` (pt-BR aliases as in CSV). `tags` is an array of strings or one string split
//! like a CSV cell; `enabled` is a boolean, 0/1 or a CSV-style word. Blank lines are ignored,
//! unknown keys too; a line that cannot be read is skipped with the reason.

use serde_json::Value;

use super::import::{Draft, Field, Skipped, parse_enabled, split_tags};

/// Drafts from the non-blank lines of `text`.
pub(super) fn parse(text: &str) -> Vec<Result<Draft, Skipped>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| draft(i + 1, line).map_err(|reason| Skipped { line: i + 1, reason }))
        .collect()
}

fn draft(line: usize, text: &str) -> Result<Draft, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("expected a JSON object".into());
    };
    let mut draft = Draft::new(line);
    for (key, value) in object {
        match Field::from_name(&key) {
            Some(Field::Question) => draft.question = string(&key, value)?.unwrap_or_default(),
            Some(Field::Answer) => draft.answer = string(&key, value)?.unwrap_or_default(),
            Some(Field::Title) => draft.title = string(&key, value)?,
            Some(Field::Tags) => draft.tags = tags(&key, value)?,
            Some(Field::Enabled) => draft.enabled = enabled(&key, value)?,
            None => {}
        }
    }
    Ok(draft)
}

fn string(key: &str, value: Value) -> Result<Option<String>, String> {
    match value {
        Value::String(s) => Ok(Some(s)),
        Value::Null => Ok(None),
        _ => Err(format!("`{key}` must be a string")),
    }
}

fn tags(key: &str, value: Value) -> Result<Vec<String>, String> {
    let wrong = || format!("`{key}` must be a string or an array of strings");
    match value {
        Value::String(s) => Ok(split_tags(&s)),
        Value::Array(items) => {
            items.into_iter().map(|item| if let Value::String(s) = item { Ok(s) } else { Err(wrong()) }).collect()
        }
        Value::Null => Ok(Vec::new()),
        _ => Err(wrong()),
    }
}

fn enabled(key: &str, value: Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(true),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Value::String(s) => parse_enabled(&s),
        _ => Err(format!("`{key}` must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use crate::knowledge::{ImportFormat, ParsedImport, Skipped, parse_import};

    const FIXTURE: &str = include_str!("../../tests/fixtures/knowledge/loja_exemplo.jsonl");

    fn jsonl(text: &str) -> ParsedImport {
        parse_import(ImportFormat::Jsonl, text).expect("a readable file")
    }

    #[test]
    fn the_fixture_imports_every_line() {
        let parsed = jsonl(FIXTURE);
        assert_eq!(parsed.skipped, []);
        assert_eq!(parsed.entries.len(), 16);
        assert_eq!(parsed.entries[3].tags, ["troca"], "a tags string is split");
        assert_eq!(parsed.entries[6].title, None);
        assert_eq!(parsed.entries[15].line, 16);
        assert!(!parsed.entries[15].enabled);
    }

    #[test]
    fn bad_lines_are_skipped_with_their_line_and_reason() {
        let text = concat!(
            "{\"question\": \"Tem Pix?\", \"answer\": \"Sim.\", \"tags\": \"pix; pagamento\", \"id\": 7}\n",
            "\n",
            "{\"question\": \"Tem boleto?\", \"answer\": \"\"}\n",
            "{\"question\": \"Tem cartão?\", \"answer\": \"Sim\"\n",
            "[1, 2]\n",
            "{\"question\": \"Parcela?\", \"answer\": \"Sim\", \"tags\": [\"cartão\", 3]}\n",
            "{\"question\": 12, \"answer\": \"Sim\"}\n",
            "{\"pergunta\": \"Entrega no sábado?\", \"resposta\": \"Não.\", \"enabled\": 0}\n",
        );
        let parsed = jsonl(text);
        let skipped: Vec<_> = parsed.skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
        assert_eq!(skipped[0], (3, "answer is empty"));
        assert_eq!(skipped[1].0, 4);
        assert!(skipped[1].1.starts_with("invalid JSON: "), "{skipped:?}");
        assert_eq!(skipped[2], (5, "expected a JSON object"));
        assert_eq!(skipped[3], (6, "`tags` must be a string or an array of strings"));
        assert_eq!(skipped[4], (7, "`question` must be a string"));
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[0].tags, ["pix", "pagamento"]);
        assert_eq!((parsed.entries[1].line, parsed.entries[1].enabled), (8, false));
    }

    #[test]
    fn a_bom_before_the_first_object_is_ignored() {
        let parsed = jsonl("\u{feff}{\"question\": \"Tem Pix?\", \"answer\": \"Sim.\"}\r\n");
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(parsed.skipped, Vec::<Skipped>::new());
    }
}
