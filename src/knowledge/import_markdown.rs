//! Markdown knowledge files: one entry per `## ` section. The heading is the question (and
//! the title); the body up to the next `## ` or `# ` heading is the answer, trimmed, line
//! breaks kept. A `Tags: a, b` line in the body (also `Etiquetas:`, `**Tags:**`) gives the
//! tags and leaves the answer. Text before the first `## `, or after a `# `, is ignored, and
//! headings inside fenced code blocks stay body text.

use super::import::{Draft, ImportError, Skipped, split_tags};

/// Drafts from the `## ` sections of `text`.
pub(super) fn parse(text: &str) -> Result<Vec<Result<Draft, Skipped>>, ImportError> {
    let mut sections: Vec<Section> = Vec::new();
    let mut current: Option<Section> = None;
    let mut fence: Option<char> = None;
    for (i, line) in text.lines().enumerate() {
        if fence.is_none() {
            if let Some(question) = heading(line, 2) {
                sections.extend(current.replace(Section::new(i + 1, question)));
                continue;
            }
            if heading(line, 1).is_some() {
                sections.extend(current.take());
                continue;
            }
        }
        let in_fence = fence.is_some();
        fence = toggle_fence(fence, line);
        if let Some(section) = &mut current {
            section.body.push((line, in_fence || fence.is_some()));
        }
    }
    sections.extend(current);
    if sections.is_empty() {
        return Err(ImportError::NoSections);
    }
    Ok(sections.into_iter().map(|s| Ok(s.draft())).collect())
}

struct Section<'a> {
    line: usize,
    question: String,
    /// Body lines, each with whether it is inside (or opens or closes) a code fence.
    body: Vec<(&'a str, bool)>,
}

impl Section<'_> {
    fn new(line: usize, question: String) -> Self {
        Self { line, question, body: Vec::new() }
    }

    fn draft(self) -> Draft {
        let mut tags = Vec::new();
        let mut answer = Vec::new();
        for (line, in_fence) in self.body {
            match tags_line(line).filter(|_| !in_fence) {
                Some(found) => tags.extend(found),
                None => answer.push(line.trim_end()),
            }
        }
        Draft {
            title: Some(self.question.clone()),
            question: self.question,
            answer: answer.join("\n"),
            tags,
            ..Draft::new(self.line)
        }
    }
}

/// The text of an ATX heading of exactly `level` (up to 3 spaces of indent, optional closing `#`s).
fn heading(line: &str, level: usize) -> Option<String> {
    let unindented = line.trim_start_matches(' ');
    let indent = line.len() - unindented.len();
    let rest = unindented.strip_prefix(&"#".repeat(level))?;
    if indent > 3 || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let text = rest.trim();
    let without_closing = text.trim_end_matches('#');
    let closed = without_closing.is_empty() || without_closing.ends_with([' ', '\t']);
    Some(if closed { without_closing.trim_end() } else { text }.to_string())
}

/// The fence state after `line`: opened by three backticks or tildes, closed by the same character.
fn toggle_fence(fence: Option<char>, line: &str) -> Option<char> {
    let trimmed = line.trim_start();
    let marker = ['`', '~'].into_iter().find(|c| trimmed.starts_with(&c.to_string().repeat(3)));
    match (fence, marker) {
        (None, Some(c)) => Some(c),
        (Some(open), Some(c)) if open == c => None,
        (state, _) => state,
    }
}

/// Tags from a `Tags: a, b` line, if `line` is one.
fn tags_line(line: &str) -> Option<Vec<String>> {
    let text = line.trim().trim_start_matches(['*', '_']);
    let (label, rest) = text.split_once(':')?;
    let label = label.trim_end_matches(['*', '_']).trim().to_lowercase();
    (label == "tags" || label == "etiquetas").then(|| split_tags(rest.trim_start_matches(['*', '_'])))
}

#[cfg(test)]
mod tests {
    use crate::knowledge::{ImportError, ImportFormat, ParsedImport, parse_import};

    const FIXTURE: &str = include_str!("../../tests/fixtures/knowledge/loja_exemplo.md");

    fn md(text: &str) -> ParsedImport {
        parse_import(ImportFormat::Markdown, text).expect("a file with sections")
    }

    #[test]
    fn the_fixture_yields_one_entry_per_section_with_its_tags() {
        let parsed = md(FIXTURE);
        assert_eq!(parsed.skipped, []);
        assert_eq!(parsed.entries.len(), 15);
        let first = &parsed.entries[0];
        assert_eq!((first.line, first.question.as_str()), (5, "Qual o prazo de entrega?"));
        assert_eq!(first.title.as_deref(), Some("Qual o prazo de entrega?"));
        assert_eq!(first.tags, ["entrega", "prazo", "frete"]);
        assert!(first.answer.starts_with("Capitais do Sul") && first.answer.ends_with("do pagamento."));
        assert_eq!(first.answer.lines().count(), 4);
    }

    #[test]
    fn tags_lines_are_read_and_removed_from_the_answer() {
        let parsed = md("## Tem Pix?\n\nSim, com desconto.\n**Tags:** pix, pagamento\n\nEtiquetas: promoção\n");
        let entry = &parsed.entries[0];
        assert_eq!(entry.answer, "Sim, com desconto.");
        assert_eq!(entry.tags, ["pix", "pagamento", "promoção"]);
    }

    #[test]
    fn h1_ends_a_section_and_subheadings_and_code_stay_in_the_answer() {
        let text = "intro\n## Como pagar? ##\nVeja:\n### Pix\nQR Code.\n```\n## não é seção\nTags: x\n```\n# Outros\nignorado\n## C#\nSim\n";
        let parsed = md(text);
        let questions: Vec<_> = parsed.entries.iter().map(|e| e.question.as_str()).collect();
        assert_eq!(questions, ["Como pagar?", "C#"]);
        assert_eq!(parsed.entries[0].answer, "Veja:\n### Pix\nQR Code.\n```\n## não é seção\nTags: x\n```");
        assert_eq!(parsed.entries[1].line, 12);
    }

    #[test]
    fn empty_sections_and_repeated_headings_are_skipped() {
        let parsed = md("## Tem Pix?\n\n## Tem boleto?\nSim.\n## tem boleto\nNão.\n##\nSem pergunta\n");
        let skipped: Vec<_> = parsed.skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
        assert_eq!(
            skipped,
            [(1, "answer is empty"), (5, "duplicate question (same as line 3)"), (7, "question is empty")]
        );
    }

    #[test]
    fn a_file_without_sections_is_an_error() {
        let err = parse_import(ImportFormat::Markdown, "# FAQ\n\nNada aqui.\n").unwrap_err();
        assert!(matches!(err, ImportError::NoSections));
    }
}
