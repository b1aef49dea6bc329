//! Handoff signals: the customer asks for a person, or the model says it cannot help.
//!
//! A person noun alone is not a request ("o atendente foi ótimo"); it needs a request frame
//! ("quero falar com", "me passa pra", "talk to") or a qualifier that only a request uses
//! ("pessoa de verdade", "real person"). A message that is nothing but the noun ("humano!",
//! "atendente por favor") is a request too.

use std::sync::LazyLock;

use super::matcher::{Phrase, tokenize};
use super::normalize::normalize;

/// Who a customer may ask for.
const PERSON: &str = "atendente|atendentes|humano|humana|humanos|pessoa|pessoas|alguem|gente|operador|operadora|\
funcionario|funcionaria|agente|consultor|consultora|gerente|supervisor|supervisora|responsavel|especialista|\
atendimento_humano|suporte_humano|ser_humano|human|humans|person|people|someone|somebody|agent|agents|\
operator|representative|rep|staff|manager|specialist|live_agent|live_chat|customer_service|support_team";

/// Words judging a service already received: "o suporte humano de vocês é bom".
const VERDICT: &str = "foi|era|bom|boa|otimo|otima|ruim|pessimo|pessima|demorado|demorada|lento|lenta|excelente|\
horrivel|elogiar|elogio|rapido|rapida";

/// Words that may fill a message that is only a request for a person.
const FILLER: &[&str] = &[
    "um",
    "uma",
    "o",
    "a",
    "com",
    "quero",
    "queria",
    "preciso",
    "por",
    "favor",
    "please",
    "agora",
    "ja",
    "urgente",
    "oi",
    "ola",
    "an",
    "the",
    "i",
    "want",
    "need",
    "now",
    "hi",
    "hello",
    "me",
    "de",
    "verdade",
    "real",
    "falar",
    "atendimento",
    "suporte",
    "support",
    "talk",
    "to",
    "with",
];

/// Nouns that make a message that is only a request for a person.
const BARE_REQUEST: &[&str] =
    &["atendente", "humano", "humana", "pessoa", "operador", "human", "agent", "operator", "representative", "person"];

static ASKS_FOR_PERSON: LazyLock<Vec<Phrase>> = LazyLock::new(|| {
    vec![
        Phrase::new(&format!(
            "quero|queria|gostaria|preciso|posso|pode|poderia|consigo|da_pra|tem_como|deixa|quer|desejo ~3 \
             falar|conversar|contato|atendimento|ser_atendido|ser_atendida|atendid* ~3 {PERSON}"
        ))
        .not_near("foi|era|disse|falou|prometeu"),
        Phrase::new(&format!("quero|queria|preciso|chama|chame|cade|kd|onde_esta|onde_ta ~2 {PERSON}"))
            .not_near("foi|era|disse|falou|prometeu|sou|trabalho|horario|sabado|domingo|funciona|saber"),
        Phrase::new(&format!(
            "passa|passe|passar|transfere|transfira|transferir|encaminha|encaminhe|encaminhar|coloca|coloque|colocar|\
             bota|botar|joga|manda|mande|redireciona|redirecione|redirecionar|chama|chame|chamar ~3 pra|para|com|um|uma|o|a|ao ~2 {PERSON}"
        )),
        Phrase::new(
            "tem|tem_algum|tem_alguma|existe|ha|is_there|are_there|anyone|anybody|someone|somebody ~2 \
             alguem|humano|humana|pessoa|gente|atendente|human|person|there",
        )
        .near("ai|real|de_verdade|vivo|viva|humano|humana|there|human|alive|me_atender|atender"),
        Phrase::new(
            "pessoa|pessoas|alguem|gente|atendente|humano|humana|person|someone|human|agent|people + \
             de_verdade|real|reais|de_carne_e_osso|humano|humana|vivo|viva|live|actual|being",
        ),
        Phrase::new("real|actual|live|verdadeira|verdadeiro + person|human|agent|humano|pessoa|atendente|people"),
        Phrase::new("human + being|agent|person|support|please|pls"),
        Phrase::new("atendimento|suporte|atendente + humano|humana|pessoal").not_near(VERDICT),
        Phrase::new(
            "nao_quero|nao_aguento|chega_de|para_de|pare_de|cansei_de|odeio|nao_gosto_de ~3 robo|robos|bot|bots|\
             maquina|ia|inteligencia_artificial|chatbot|resposta_automatica|mensagem_automatica|respostas_automaticas",
        ),
        Phrase::new(
            "no_more|stop|dont_want|i_hate|hate|enough|tired_of ~3 bot|bots|robot|machine|ai|automated|chatbot",
        ),
        Phrase::new(&format!(
            "talk|speak|chat|connect|transfer|put|escalate|talking|speaking ~3 to|with|me|through ~2 {PERSON}"
        ))
        .not_near("was|were|said|told|rude"),
        Phrase::new(
            "want|need|get|give ~1 me|a|an ~1 human|person|agent|operator|representative|real_person|live_agent|\
             manager|supervisor|someone_real",
        ),
        Phrase::new("escalate|escalar|escalona|escalone ~3 this|isso|human|humano|person|pessoa|supervisor|manager"),
    ]
});

static CANNOT_HELP: LazyLock<Vec<Phrase>> = LazyLock::new(|| {
    vec![
        Phrase::new(
            "nao_consigo|nao_posso|nao_sei_como|nao_tenho_como|nao_vou_conseguir|nao_conseguimos|nao_podemos ~2 \
             ajudar|auxiliar|resolver|atender|responder",
        ),
        Phrase::new(
            "nao_sei + responder|informar|dizer|te_dizer|te_informar|lhe_informar|ao_certo|a_resposta|explicar",
        ),
        Phrase::new(
            "nao_tenho|nao_possuo|nao_disponho|nao_temos|nao_possuimos ~2 informac*|dados|acesso|detalhes|resposta|\
             como_verificar|como_informar|como_saber|como_confirmar|como_consultar|como_ajudar|como_resolver",
        ),
        Phrase::new("nao_encontrei|nao_localizei|nao_achei ~2 essa|esta|nenhuma|informac*|resposta|dados"),
        Phrase::new("nao_estou|nao_sou ~1 autorizad*|habilitad*|capacitad*|apto|apta|capaz"),
        Phrase::new("fora_do_meu|fora_da_minha ~1 alcance|escopo|conhecimento|competencia"),
        Phrase::new(
            "vou|irei|vamos|posso|deixa_eu ~2 transferir|encaminhar|chamar|passar|transferi|encaminha ~3 \
             atendente|atendentes|humano|humana|equipe|pessoa|especialista|colega|responsavel|setor|time|suporte",
        ),
        Phrase::new(
            "atendente|equipe|especialista|colega|pessoa ~2 vai|ira|podera|pode ~2 ajudar|resolver|atender|falar|\
             responder|retornar|assumir|continuar",
        ),
        Phrase::new(
            "i_cant|i_cannot|i_can_not|im_unable|i_am_unable|im_not_able|i_am_not_able|i_wont_be_able|unable_to ~2 \
             help|assist|answer|provide|access|find|do_that|resolve|handle|support|check|confirm",
        ),
        Phrase::new("i_dont_know|i_do_not_know|im_not_sure|i_am_not_sure|no_idea"),
        Phrase::new("i_dont_have|i_do_not_have|i_have_no ~2 information|access|details|data|answer|way"),
        Phrase::new("i_couldnt|i_could_not ~1 find|locate"),
        Phrase::new("beyond|outside + my ~1 scope|capabilities|knowledge|abilities|reach"),
        Phrase::new(
            "transfer|connect|escalate|forward|hand ~3 you|this|conversation ~3 human|agent|person|team|colleague|\
             specialist|representative",
        ),
    ]
});

/// Whether the customer asks for a person (pt-BR or en): "quero falar com um atendente",
/// "tem alguém aí de verdade?", "me passa pra um humano", "talk to an agent", "real person".
/// Mentions that are not requests ("o atendente foi ótimo", "vocês têm atendimento sábado?",
/// "humano é assim mesmo") are not.
pub fn wants_human(text: &str) -> bool {
    let tokens = tokenize(&normalize(text));
    is_bare_request(&tokens) || ASKS_FOR_PERSON.iter().any(|p| p.is_in(&tokens))
}

/// Whether an LLM answer says it cannot help or does not know (pt-BR or en), so a person
/// would serve the customer better.
pub fn says_cannot_help(answer: &str) -> bool {
    let tokens = tokenize(&normalize(answer));
    CANNOT_HELP.iter().any(|p| p.is_in(&tokens))
}

/// A short message made only of a person noun and politeness: "Atendente!", "humano pfv".
fn is_bare_request(tokens: &[String]) -> bool {
    let words: Vec<&str> = tokens.iter().map(String::as_str).filter(|t| *t != "|" && *t != ":").collect();
    words.len() <= 5
        && words.iter().any(|w| BARE_REQUEST.contains(w))
        && words.iter().all(|w| BARE_REQUEST.contains(w) || FILLER.contains(w))
}
