//! CSV knowledge files: a header with at least `question` and `answer` (pt-BR aliases
//! `pergunta`, `resposta`), optional `title`, `tags`, `enabled`; other columns are ignored.
//!
//! The delimiter is `,` unless the header has more `;` (Excel in pt-BR saves CSV with `;`,
//! since `,` is the decimal separator) or tabs. Quoted cells may span lines; each record's
//! line is where it starts. Rows whose cells are all blank are ignored.

use csv::{ReaderBuilder, StringRecord};

use super::import::{Draft, Field, ImportError, Skipped, parse_enabled, split_tags};

/// Drafts from the records of `text`, a CSV file without BOM.
pub(super) fn parse(text: &str) -> Result<Vec<Result<Draft, Skipped>>, ImportError> {
    let mut reader =
        ReaderBuilder::new().delimiter(delimiter(text)).flexible(true).has_headers(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| ImportError::InvalidCsv(e.to_string()))?;
    let columns = Columns::from_header(header)?;
    let mut drafts = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => drafts.extend(columns.draft(&record)),
            Err(e) => {
                drafts.push(Err(Skipped { line: e.position().map_or(0, line_of), reason: format!("invalid CSV: {e}") }))
            }
        }
    }
    Ok(drafts)
}

fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    let count = |c: char| header.matches(c).count();
    let (commas, semicolons, tabs) = (count(','), count(';'), count('\t'));
    if tabs > commas && tabs > semicolons {
        b'\t'
    } else if semicolons > commas {
        b';'
    } else {
        b','
    }
}

fn line_of(position: &csv::Position) -> usize {
    usize::try_from(position.line()).unwrap_or(usize::MAX)
}

/// Where each known field sits in a record.
struct Columns {
    question: usize,
    answer: usize,
    title: Option<usize>,
    tags: Option<usize>,
    enabled: Option<usize>,
    /// Number of header cells; a record with more non-blank cells is ambiguous.
    width: usize,
}

impl Columns {
    fn from_header(header: &StringRecord) -> Result<Self, ImportError> {
        let (mut title, mut question, mut answer, mut tags, mut enabled) = (None, None, None, None, None);
        for (i, name) in header.iter().enumerate() {
            let slot = match Field::from_name(name) {
                Some(Field::Title) => &mut title,
                Some(Field::Question) => &mut question,
                Some(Field::Answer) => &mut answer,
                Some(Field::Tags) => &mut tags,
                Some(Field::Enabled) => &mut enabled,
                None => continue,
            };
            if slot.replace(i).is_some() {
                return Err(ImportError::DuplicateColumn(name.trim().to_string()));
            }
        }
        let (Some(question), Some(answer)) = (question, answer) else {
            return Err(ImportError::MissingColumns(names(header)));
        };
        Ok(Self { question, answer, title, tags, enabled, width: header.len() })
    }

    /// `None` for a row of blank cells.
    fn draft(&self, record: &StringRecord) -> Option<Result<Draft, Skipped>> {
        if record.iter().all(|cell| cell.trim().is_empty()) {
            return None;
        }
        let line = record.position().map_or(0, line_of);
        let skip = |reason: String| Some(Err(Skipped { line, reason }));
        let cells =
            record.iter().enumerate().filter(|(_, cell)| !cell.trim().is_empty()).last().map_or(0, |(i, _)| i + 1);
        if cells > self.width {
            return skip(format!(
                "the row has {cells} cells but the header has {}; quote cells that contain the delimiter",
                self.width
            ));
        }
        let cell = |i: usize| record.get(i).unwrap_or_default();
        let enabled = match self.enabled.map_or(Ok(true), |i| parse_enabled(cell(i))) {
            Ok(enabled) => enabled,
            Err(reason) => return skip(reason),
        };
        Some(Ok(Draft {
            title: self.title.map(|i| cell(i).to_string()),
            question: cell(self.question).to_string(),
            answer: cell(self.answer).to_string(),
            tags: self.tags.map(|i| split_tags(cell(i))).unwrap_or_default(),
            enabled,
            ..Draft::new(line)
        }))
    }
}

/// The header's names for an error message: "`a`, `b`", or "no columns".
fn names(header: &StringRecord) -> String {
    let names: Vec<String> =
        header.iter().filter(|n| !n.trim().is_empty()).map(|n| format!("`{}`", n.trim())).collect();
    if names.is_empty() { "no columns".to_string() } else { names.join(", ") }
}

#[cfg(test)]
mod tests {
    use crate::knowledge::{ImportError, ImportFormat, parse_import};

    const FIXTURE: &str = include_str!("../../tests/fixtures/knowledge/loja_exemplo.csv");

    fn csv(text: &str) -> crate::knowledge::ParsedImport {
        parse_import(ImportFormat::Csv, text).expect("a valid CSV")
    }

    #[test]
    fn the_fixture_imports_every_entry_with_tags_and_enabled() {
        let parsed = csv(FIXTURE);
        assert_eq!(parsed.skipped, []);
        assert_eq!(parsed.entries.len(), 16);
        let first = &parsed.entries[0];
        assert_eq!((first.line, first.title.as_deref()), (2, Some("Prazo de entrega")));
        assert_eq!(first.tags, ["entrega", "prazo", "frete"]);
        assert_eq!(first.answer.lines().count(), 4, "the quoted multi-line cell keeps its line breaks");
        assert_eq!(parsed.entries[1].line, 6, "a record's line is where it starts");
        assert_eq!(parsed.entries.iter().filter(|e| !e.enabled).count(), 1, "`não` disables an entry");
    }

    #[test]
    fn a_missing_answer_column_names_the_columns_found() {
        let err = parse_import(ImportFormat::Csv, "Pergunta,Resposta curta,tags\nOi?,Olá,\n").unwrap_err();
        assert!(matches!(err, ImportError::MissingColumns(_)));
        assert_eq!(
            err.to_string(),
            "CSV header needs at least `question` and `answer` (found: `Pergunta`, `Resposta curta`, `tags`)"
        );
    }

    #[test]
    fn a_row_with_an_empty_answer_is_skipped_with_its_line() {
        let parsed = csv("question,answer\nTem Pix?,Sim\nTem boleto?,   \nTem cartão?,Sim\n");
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.skipped, [crate::knowledge::Skipped { line: 3, reason: "answer is empty".into() }]);
    }

    #[test]
    fn bom_semicolons_pt_br_headers_and_crlf_are_read() {
        let text = "\u{feff}Título;Pergunta;Resposta;Etiquetas;Ativo\r\nPix;Aceita Pix?;Sim, com 5% de desconto.;pix, pagamento;Não\r\n";
        let entry = &csv(text).entries[0];
        assert_eq!(entry.title.as_deref(), Some("Pix"));
        assert_eq!(entry.answer, "Sim, com 5% de desconto.");
        assert_eq!(entry.tags, ["pix", "pagamento"]);
        assert!(!entry.enabled);
    }

    #[test]
    fn quoted_cells_keep_commas_quotes_and_line_breaks() {
        let parsed = csv(
            "question,answer,tags\n\"Horário?\",\"Seg a sex, 9h–18h.\nSáb: \"\"meio período\"\".\",horário|loja\nOutra?,Sim,\n",
        );
        assert_eq!(parsed.entries[0].answer, "Seg a sex, 9h–18h.\nSáb: \"meio período\".");
        assert_eq!(parsed.entries[0].tags, ["horário", "loja"]);
        assert_eq!(parsed.entries[1].line, 4);
    }

    #[test]
    fn rows_with_extra_cells_or_bad_enabled_values_are_skipped() {
        let parsed =
            csv("question,answer,enabled\nA pergunta?,Sim, claro,1\nB pergunta?,Sim,talvez\nC pergunta?,Sim,,,\n,,\n");
        let reasons: Vec<_> = parsed.skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].1.starts_with("the row has 4 cells but the header has 3"), "{reasons:?}");
        assert!(reasons[1].1.contains("(found \"talvez\")"), "{reasons:?}");
        assert_eq!(parsed.entries.len(), 1, "trailing blank cells and blank rows are fine");
    }

    #[test]
    fn a_repeated_column_is_a_file_error() {
        let err = parse_import(ImportFormat::Csv, "question,pergunta,answer\n").unwrap_err();
        assert_eq!(err.to_string(), "CSV header has the column `pergunta` twice");
    }
}
