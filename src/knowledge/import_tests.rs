//! Rules shared by every import format: limits, duplicates, formats by path, odd input.

use std::path::Path;

use super::{ImportError, ImportFormat, MAX_ANSWER_CHARS, MAX_TAGS, ParsedImport, parse_import};

fn jsonl(lines: &[serde_json::Value]) -> ParsedImport {
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    parse_import(ImportFormat::Jsonl, &text.join("\n")).expect("a readable file")
}

#[test]
fn formats_are_known_by_extension_and_name() {
    assert_eq!(ImportFormat::from_path(Path::new("kb/loja.CSV")), Some(ImportFormat::Csv));
    assert_eq!(ImportFormat::from_path(Path::new("loja.ndjson")), Some(ImportFormat::Jsonl));
    assert_eq!(ImportFormat::from_path(Path::new("loja.jsonl")), Some(ImportFormat::Jsonl));
    assert_eq!(ImportFormat::from_path(Path::new("faq.markdown")), Some(ImportFormat::Markdown));
    assert_eq!(ImportFormat::from_path(Path::new("faq.md")), Some(ImportFormat::Markdown));
    assert_eq!(ImportFormat::from_path(Path::new("faq.txt")), None);
    assert_eq!(ImportFormat::from_path(Path::new("README")), None);
    for format in [ImportFormat::Csv, ImportFormat::Jsonl, ImportFormat::Markdown] {
        assert_eq!(ImportFormat::parse(format.as_str()), Some(format));
    }
}

#[test]
fn repeated_questions_are_skipped_after_normalization() {
    let parsed = jsonl(&[
        serde_json::json!({"question": "Qual o prazo de entrega?", "answer": "5 dias."}),
        serde_json::json!({"question": "Tem Pix?", "answer": "Sim."}),
        serde_json::json!({"question": "  qual o PRAZO de entrega ", "answer": "7 dias."}),
    ]);
    assert_eq!(parsed.entries.len(), 2);
    assert_eq!(parsed.skipped[0].line, 3);
    assert_eq!(parsed.skipped[0].reason, "duplicate question (same as line 1)");
}

#[test]
fn over_limit_fields_are_skipped_with_the_limit_in_the_reason() {
    let tags: Vec<String> = (0..=MAX_TAGS).map(|i| format!("tag{i}")).collect();
    let parsed = jsonl(&[
        serde_json::json!({"question": "q".repeat(1001), "answer": "Sim."}),
        serde_json::json!({"question": "Resposta longa?", "answer": "ã".repeat(MAX_ANSWER_CHARS + 1)}),
        serde_json::json!({"question": "Título longo?", "answer": "Sim.", "title": "t".repeat(201)}),
        serde_json::json!({"question": "Muitas tags?", "answer": "Sim.", "tags": tags}),
        serde_json::json!({"question": "No limite?", "answer": "ã".repeat(MAX_ANSWER_CHARS)}),
    ]);
    let reasons: Vec<_> = parsed.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "question is too long (1001 characters; at most 1000)",
            "answer is too long (8001 characters; at most 8000)",
            "title is too long (201 characters; at most 200)",
            "too many tags (21; at most 20)",
        ]
    );
    assert_eq!(parsed.entries.len(), 1, "limits count characters, not bytes");
}

#[test]
fn fields_are_trimmed_and_repeated_tags_dropped() {
    let parsed = jsonl(&[serde_json::json!({
        "question": "  Tem Pix? ", "answer": "\n Sim. \n", "title": "  ", "tags": [" Pix ", "pix", "PIX", "", "boleto"]
    })]);
    let entry = &parsed.entries[0];
    assert_eq!((entry.question.as_str(), entry.answer.as_str(), entry.title.as_deref()), ("Tem Pix?", "Sim.", None));
    assert_eq!(entry.tags, ["Pix", "boleto"]);
}

#[test]
fn blank_files_are_an_error_in_every_format() {
    for format in [ImportFormat::Csv, ImportFormat::Jsonl, ImportFormat::Markdown] {
        assert!(matches!(parse_import(format, "\u{feff} \n\t\n"), Err(ImportError::Empty)), "{format:?}");
    }
}

#[test]
fn garbage_input_never_panics() {
    let samples = [
        "\"",
        "\"\"\"\n\"",
        ",,,\n;;;",
        "question,answer\n\"unterminated,x",
        "question,answer\n\u{0},\u{0}",
        "{",
        "}{",
        "[]",
        "null",
        "{\"question\": {\"a\": 1}}",
        "\u{feff}\u{feff}",
        "## \n## #\n#",
        "```\n## a\n",
        "##\tTab?\n~~~\n",
        "\r\r\n\r",
        "question;answer\n\"a\";\"b\"\"\n",
        "ção\u{301}\u{301},🙂\n🙂,ção",
        "   ## Indentado?\n  Tags:\n    ## Código?\nx",
    ];
    for text in samples {
        for format in [ImportFormat::Csv, ImportFormat::Jsonl, ImportFormat::Markdown] {
            let _ = parse_import(format, text);
        }
    }
    // Pseudo-random bytes from a fixed LCG, read lossily as UTF-8.
    const ALPHABET: &[u8] = b"ab,;\"\n\r#{}[]:|~`\\ \xc3\xa3\xff";
    let mut state: u64 = 0x5eed;
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..64)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ALPHABET[(state >> 33) as usize % ALPHABET.len()]
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        for format in [ImportFormat::Csv, ImportFormat::Jsonl, ImportFormat::Markdown] {
            let _ = parse_import(format, &text);
        }
        let _ = super::analyze(&text, crate::domain::Language::PtBr);
        let _ = super::excerpt(&text, (state % 40) as usize);
    }
}
