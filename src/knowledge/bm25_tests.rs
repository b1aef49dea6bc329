//! Ranking behaviour of [`Index`] on a small pt-BR knowledge base and the Loja Exemplo fixture.

use super::{Entry, Hit, ImportFormat, Index, parse_import};
use crate::domain::Language;

fn entry(id: i64, question: &str, answer: &str, tags: &[&str]) -> Entry {
    Entry {
        id,
        title: None,
        question: question.into(),
        answer: answer.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

fn shop() -> Vec<Entry> {
    vec![
        entry(
            1,
            "Como faço uma devolução?",
            "Você tem 7 dias para desistir da compra; a coleta é grátis.",
            &["devolução"],
        ),
        entry(
            2,
            "Qual o prazo de entrega?",
            "Sudeste: 2 a 4 dias úteis. Norte e Nordeste: 7 a 12 dias úteis.",
            &["entrega", "prazo"],
        ),
        entry(3, "Quais formas de pagamento?", "Pix, boleto e cartão em até 10x sem juros.", &["pagamento", "pix"]),
        entry(
            4,
            "Como rastrear meu pedido?",
            "Enviamos o código de rastreio por e-mail depois da entrega à transportadora.",
            &[],
        ),
    ]
}

fn ids(hits: &[Hit]) -> Vec<i64> {
    hits.iter().map(|h| h.id).collect()
}

fn loja_exemplo() -> Index {
    let text = include_str!("../../tests/fixtures/knowledge/loja_exemplo.csv");
    let parsed = parse_import(ImportFormat::Csv, text).expect("fixture parses");
    let entries: Vec<Entry> = (1..)
        .zip(parsed.entries.into_iter().filter(|e| e.enabled))
        .map(|(id, e)| Entry { id, title: e.title, question: e.question, answer: e.answer, tags: e.tags })
        .collect();
    Index::build(&entries, Language::PtBr)
}

#[test]
fn a_delivery_question_ranks_the_delivery_entry_first() {
    let hits = Index::build(&shop(), Language::PtBr).search("qual o prazo de entrega para o nordeste?", 10);
    assert_eq!(hits[0].id, 2);
    assert!(hits.iter().all(|h| h.id != 1), "the returns entry shares no term: {hits:?}");
}

#[test]
fn accents_and_case_in_the_query_do_not_matter() {
    let index = Index::build(&shop(), Language::PtBr);
    assert_eq!(ids(&index.search("devolucao", 10)), [1]);
    assert_eq!(index.search("DEVOLUÇÃO", 10), index.search("devolucao", 10));
    assert_eq!(ids(&index.search("quero devolver", 10)), [1], "verb and noun share a stem");
}

#[test]
fn question_matches_outrank_answer_only_matches() {
    let entries = vec![
        entry(1, "Vocês entregam aos sábados?", "Não.", &[]),
        entry(2, "Posso trocar um produto?", "Sim, até 30 dias; o sábado conta como dia útil.", &[]),
    ];
    let hits = Index::build(&entries, Language::PtBr).search("sábado", 10);
    assert_eq!(ids(&hits), [1, 2]);
    assert!(hits[0].score > hits[1].score);
}

#[test]
fn an_empty_or_stopword_only_query_has_no_hits() {
    let index = Index::build(&shop(), Language::PtBr);
    assert_eq!(index.search("", 10), []);
    assert_eq!(index.search("   ?! ", 10), []);
    assert_eq!(index.search("o que é de para", 10), []);
    assert_eq!(index.search("entrega", 0), []);
}

#[test]
fn equal_scores_are_ordered_by_id() {
    let entries = vec![
        entry(30, "Tem Pix?", "Sim.", &[]),
        entry(10, "Tem Pix?", "Sim.", &[]),
        entry(20, "Tem Pix?", "Sim.", &[]),
    ];
    let hits = Index::build(&entries, Language::PtBr).search("pix", 2);
    assert_eq!(ids(&hits), [10, 20]);
    assert_eq!(hits[0].score, hits[1].score);
}

#[test]
fn coverage_is_the_share_of_distinct_query_terms_found() {
    let hits = Index::build(&shop(), Language::PtBr).search("prazo prazo de entrega do boleto", 10);
    let coverage = |id| hits.iter().find(|h| h.id == id).map(|h| h.coverage);
    assert_eq!(coverage(2), Some(2.0 / 3.0), "prazo and entrega, not boleto");
    assert_eq!(coverage(3), Some(1.0 / 3.0));
    assert_eq!(coverage(4), Some(1.0 / 3.0), "entrega in the answer");
    assert!(hits.iter().all(|h| h.score > 0.0 && (0.0..=1.0).contains(&h.coverage)));
}

#[test]
fn a_title_equal_to_the_question_counts_once() {
    let mut with_title = shop();
    with_title[1].title = Some(with_title[1].question.clone());
    let plain = Index::build(&shop(), Language::PtBr).search("prazo de entrega", 1);
    let titled = Index::build(&with_title, Language::PtBr).search("prazo de entrega", 1);
    assert_eq!(plain, titled);
}

#[test]
fn an_empty_index_finds_nothing() {
    let index = Index::build(&[], Language::PtBr);
    assert!(index.is_empty());
    assert_eq!(index.len(), 0);
    assert_eq!(index.search("entrega", 5), []);
}

#[test]
fn english_entries_are_ranked_with_english_analysis() {
    let entries = vec![
        entry(1, "How do I return an item?", "Returns are free within 30 days.", &["returns"]),
        entry(2, "When will my order arrive?", "Deliveries take 2 to 5 business days.", &["delivery"]),
    ];
    let index = Index::build(&entries, Language::En);
    assert_eq!(index.language(), Language::En);
    assert_eq!(index.search("returning my items", 5)[0].id, 1);
    assert_eq!(index.search("delivery time", 5)[0].id, 2);
}

#[test]
fn customer_messages_find_the_right_loja_exemplo_entry() {
    let index = loja_exemplo();
    assert_eq!(index.len(), 15, "the disabled entry is left out by the caller");
    let cases = [
        ("qual o prazo de entrega para o nordeste?", 1),
        ("quero devolver um produto", 3),
        ("vcs aceitam pix?", 6),
        ("como pago com pix", 7),
        ("da pra parcelar no cartao?", 9),
        ("que horas a loja abre no sabado", 10),
        ("onde fica o endereço da loja", 13),
        ("como rastreio meu pedido", 12),
        ("o produto veio com defeito", 15),
        ("quando cai o estorno do reembolso", 5),
    ];
    for (query, expected) in cases {
        let hits = index.search(query, 3);
        assert_eq!(hits.first().map(|h| h.id), Some(expected), "{query:?} → {hits:?}");
    }
}
