//! The output guard: leaks, link allowlist, WhatsApp-sized messages.

use super::super::{OutputBlock, OutputPolicy, WHATSAPP_MAX_CHARS, check_output, split_message};

const SYSTEM_PROMPT: &str = "Você é o atendente virtual da Loja Aurora no WhatsApp. Nunca ofereça descontos \
acima de 10% e nunca revele o código interno AURORA-VIP-2024.";

fn policy() -> OutputPolicy {
    OutputPolicy { forbidden: vec![SYSTEM_PROMPT.to_string(), "sk-live-9f8e7d6c".to_string()], ..Default::default() }
}

fn with_allowlist(hosts: &[&str]) -> OutputPolicy {
    OutputPolicy { url_allowlist: Some(hosts.iter().map(|h| h.to_string()).collect()), ..Default::default() }
}

#[test]
fn a_normal_answer_passes_as_one_message() {
    assert_eq!(check_output("  Seu pedido sai amanhã!  ", &policy()), Ok(vec!["Seu pedido sai amanhã!".to_string()]));
}

#[test]
fn a_thirty_character_fragment_of_the_system_prompt_is_a_leak() {
    let fragment = "Nunca ofereça descontos acima"; // 29 characters from the prompt
    let answer = format!("Minhas regras dizem: {fragment}, desculpe.");
    assert_eq!(check_output(&answer, &policy()), Err(OutputBlock::Leak));
}

#[test]
fn a_leak_is_found_across_reflowed_whitespace_and_case() {
    let answer = "NUNCA OFEREÇA    DESCONTOS\nACIMA DE 10%";
    assert_eq!(check_output(answer, &policy()), Err(OutputBlock::Leak));
}

#[test]
fn a_short_secret_leaks_when_it_appears_whole() {
    assert_eq!(check_output("a chave é sk-live-9f8e7d6c", &policy()), Err(OutputBlock::Leak));
}

#[test]
fn short_common_overlaps_with_the_prompt_are_not_leaks() {
    assert!(check_output("Você é muito bem-vindo à Loja Aurora!", &policy()).is_ok());
}

#[test]
fn allowlisted_hosts_and_their_subdomains_may_be_linked() {
    let policy = with_allowlist(&["loja.com.br"]);
    assert!(check_output("Acompanhe em https://loja.com.br/rastreio?id=9", &policy).is_ok());
    assert!(check_output("Veja www.loja.com.br ou https://pagamento.loja.com.br/x.", &policy).is_ok());
}

#[test]
fn other_hosts_and_lookalike_suffixes_are_blocked() {
    let policy = with_allowlist(&["loja.com.br"]);
    for answer in [
        "Pague em https://loja-pagamentos.net/pix",
        "Acesse minhaloja.com.br/promo",
        "Link: http://loja.com.br.golpe.io/login",
        "Clique em [aqui](https://bit.ly/3abc)",
        "https://loja.com.br@evil.com/x",
    ] {
        assert_eq!(check_output(answer, &policy), Err(OutputBlock::DisallowedUrl), "{answer:?}");
    }
}

#[test]
fn text_without_links_passes_the_allowlist() {
    let policy = with_allowlist(&["loja.com.br"]);
    assert!(check_output("Envie o arquivo pedido.pdf para contato@outra.com.br. Obrigado.", &policy).is_ok());
}

#[test]
fn no_allowlist_means_any_link_is_fine() {
    assert!(check_output("Veja https://qualquer.site/x", &OutputPolicy::default()).is_ok());
}

#[test]
fn blank_answers_are_empty() {
    assert_eq!(check_output(" \n\t ", &policy()), Err(OutputBlock::Empty));
    assert_eq!(OutputBlock::Empty.as_str(), "empty");
    assert_eq!(OutputBlock::Leak.as_str(), "leak");
    assert_eq!(OutputBlock::DisallowedUrl.as_str(), "disallowed_url");
}

#[test]
fn default_policy_uses_the_whatsapp_limit() {
    assert_eq!(OutputPolicy::default().max_chars, WHATSAPP_MAX_CHARS);
}

#[test]
fn long_answers_are_split_at_4096_on_sentence_boundaries() {
    let sentence = "O prazo de entrega para a sua região é de cinco dias úteis após a confirmação. ";
    let text = sentence.repeat(150);
    let parts = check_output(&text, &OutputPolicy::default()).unwrap();
    assert!(parts.len() >= 3);
    for part in &parts {
        assert!(part.chars().count() <= WHATSAPP_MAX_CHARS);
        assert!(part.ends_with('.'), "cut mid-sentence: …{}", &part[part.len() - 20..]);
        assert_eq!(part.trim(), part);
    }
    assert_eq!(parts.join(" "), text.trim());
}

#[test]
fn split_prefers_paragraphs_then_sentences_then_words() {
    assert_eq!(
        split_message("Primeira frase. Segunda frase longa", 20),
        vec!["Primeira frase.", "Segunda frase longa"]
    );
    assert_eq!(split_message("um dois três quatro cinco", 10), vec!["um dois", "três", "quatro", "cinco"]);
    assert_eq!(split_message("Parágrafo um.\n\nDois. Três.", 22), vec!["Parágrafo um.", "Dois. Três."]);
}

#[test]
fn split_cuts_inside_a_word_only_when_it_is_longer_than_the_limit() {
    assert_eq!(split_message("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    assert_eq!(split_message("ééééé", 2), vec!["éé", "éé", "é"]);
}

#[test]
fn split_drops_empty_parts_and_treats_zero_as_the_whatsapp_limit() {
    assert!(split_message("   ", 10).is_empty());
    assert_eq!(split_message("oi", 0), vec!["oi"]);
}
