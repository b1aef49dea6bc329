//! Handoff signals in customer messages and model answers.

use super::super::{says_cannot_help, wants_human};

#[test]
fn requests_for_a_person_are_recognised_in_portuguese() {
    for text in [
        "quero falar com um atendente",
        "tem alguém aí de verdade?",
        "me passa pra um humano",
        "pessoa de verdade, por favor",
        "falar com o suporte humano",
        "Atendente!",
        "humano pfv",
        "posso falar com o gerente?",
        "não quero falar com robô",
        "me transfere pra alguém da loja",
        "cadê o atendente?",
        "preciso de atendimento humano",
    ] {
        assert!(wants_human(text), "{text:?}");
    }
}

#[test]
fn requests_for_a_person_are_recognised_in_english() {
    for text in
        ["talk to an agent", "I want a real person", "operator", "Can I speak with a human?", "is anyone there?"]
    {
        assert!(wants_human(text), "{text:?}");
    }
}

#[test]
fn mentions_of_people_that_are_not_requests_are_not_handoffs() {
    for text in [
        "o atendente foi ótimo",
        "vocês têm atendimento sábado?",
        "humano é assim mesmo",
        "a atendente de ontem me prometeu reembolso",
        "qual o horário de atendimento?",
        "você é um robô?",
        "tem aí no tamanho 42?",
        "The agent was very helpful",
        "I'm a real estate agent",
    ] {
        assert!(!wants_human(text), "{text:?}");
    }
}

#[test]
fn answers_that_cannot_help_are_recognised() {
    for answer in [
        "Infelizmente não consigo te ajudar com isso.",
        "Não tenho essa informação no momento.",
        "Desculpe, não sei informar o prazo exato.",
        "Vou encaminhar você para um atendente humano.",
        "Não encontrei nenhuma informação sobre esse pedido.",
        "I'm sorry, I can't help with that.",
        "I don't have access to your order details.",
    ] {
        assert!(says_cannot_help(answer), "{answer:?}");
    }
}

#[test]
fn helpful_answers_are_not_read_as_giving_up() {
    for answer in [
        "Claro! O prazo de entrega é de 3 a 5 dias úteis.",
        "Não se preocupe, consigo ajudar sim: o reembolso cai em até 7 dias.",
        "Não sei se você viu, mas temos frete grátis acima de R$ 200.",
        "Vou te encaminhar o link de rastreio: https://loja.com.br/r/123",
        "Sure, your order ships tomorrow.",
    ] {
        assert!(!says_cannot_help(answer), "{answer:?}");
    }
}
