//! The injection families as phrase patterns over folded tokens (pt-BR and en).
//!
//! Each family pairs a verb with the object it acts on. Verbs are imperative or infinitive
//! forms only, so complaints ("o entregador ignorou as instruções") do not read as commands.
//! Objects are either strong (only an AI has a "system prompt") or weak ("regras"), and weak
//! objects need a qualifier that points at the assistant ("suas", "anteriores", "do sistema").

use super::AttackKind;
use super::matcher::Phrase;
use super::social;

/// A pattern that, when found, names an attack family.
pub(crate) struct Rule {
    /// The family reported.
    pub kind: AttackKind,
    /// What to look for.
    pub phrase: Phrase,
    /// Only counts when the sender also claims authority ("sou o gerente").
    pub needs_authority: bool,
}

impl Rule {
    pub(crate) fn new(kind: AttackKind, phrase: Phrase) -> Self {
        Self { kind, phrase, needs_authority: false }
    }

    pub(crate) fn with_authority(mut self) -> Self {
        self.needs_authority = true;
        self
    }
}

const DROP_VERBS: &str = "ignore|ignora|ignorar|ignorem|esqueca|esquece|esquecer|esquecam|desconsidere|desconsidera|\
desconsiderar|desconsiderem|despreze|despreza|desprezar|descarte|descarta|descartar|abandone|abandona|abandonar|anule|\
anula|anular|apague|apaga|apagar|sobrescreva|sobrescrever|burle|burla|burlar|contorne|contorna|contornar|desative|\
desativa|desativar|desligue|desliga|desligar|remova|remover|disregard|forget|override|bypass|skip|discard|erase|\
disable|turn_off|overwrite|circumvent|ignoring|disregarding|forgetting";

const STOP_FOLLOWING: &str = "nao_siga|nao_precisa_seguir|nao_obedeca|nao_respeite|pare_de_seguir|para_de_seguir|\
deixe_de_seguir|deixa_de_seguir|pare_de_obedecer|para_de_obedecer|dont_follow|do_not_follow|stop_following|\
dont_obey|do_not_obey|stop_obeying|no_longer_follow|dont_need_to_follow|do_not_need_to_follow|dont_have_to_follow";

/// Nouns only an assistant has.
const STRONG_OBJECTS: &str = "instruc*|instruct*|prompt|prompts|diretriz|diretrizes|directive|directives|guideline|\
guidelines|programacao|programming|guardrail|guardrails|system_message|mensagem_do_sistema|mensagem_de_sistema";

/// Nouns that need a qualifier pointing at the assistant.
const WEAK_OBJECTS: &str = "regra|regras|rule|rules|orientacao|orientacoes|restricao|restricoes|restriction|\
restrictions|limitacoes|limitations|filtro|filtros|filter|filters|politica|politicas|policy|policies|comandos|commands|\
ordens|orders|treinamento|training|protocolo|protocolos|protocols|censura|censorship|directions|direcoes|normas";

/// Words pointing at the assistant's own setup.
const AIMED: &str = "suas|seus|tuas|teus|your|todas|todos|all|any|quaisquer|previous|prior|earlier|above|anteriores|\
anterior|anteriormente|previously|acima|antigas|old|original*|inicia*|initial|system|sistema|programad*|programmed|\
de_seguranca|safety|security|internal|internas|etica*|ethic*|moral*|so_far|ate_agora|until_now|te_deram|you_were_given";

/// The sender speaks of their own earlier words: "esqueça as instruções que eu te dei".
const FIRST_PERSON: &str = "eu|minha|minhas|meu|meus|my|mine|i|mandei|enviei|passei|escrevi|digitei|te_dei|lhe_dei";

/// What the customer's own instructions are about: "ignore as instruções de entrega".
const CUSTOMER_TOPICS: &str = "de_entrega|da_entrega|do_pedido|da_compra|de_pagamento|do_pagamento|de_uso|de_lavagem|\
de_montagem|de_instalacao|de_envio|do_boleto|do_pix|do_manual|do_produto|da_caixa|for_delivery|for_shipping|\
for_the_delivery|on_the_box|of_the_product";

/// What the assistant was told before: "esqueça tudo *que te disseram*".
const TOLD: &str = "acima|above|anterior*|previously|before|antes_disso|te_disseram|te_falaram|you_were_told|\
you_were_given|foi_dito|was_said|te_ensinaram|you_know|you_learned|voce_sabe|aprendeu|te_programaram|te_passaram";

/// A customer choosing the language of the conversation: "a partir de agora responda em inglês".
const LANGUAGES: &str = "em_ingles|em_portugues|em_espanhol|in_english|in_portuguese|in_spanish|ingles|english";

/// Customer topics that follow a noun: "instruções de entrega", "rules for returns".
const TOPIC_FOLLOWS: &str = "de|do|da|dos|das|for|on|about|sobre|pra|para|of|in";

const REVEAL_VERBS: &str = "mostre|mostra|mostrar|revele|revela|revelar|diga|diz|dizer|fale|fala|falar|conte|conta|\
contar|repita|repete|repetir|imprima|imprime|imprimir|escreva|escreve|escrever|copie|copia|copiar|cole|cola|colar|exiba|\
exibe|exibir|liste|lista|listar|envie|envia|enviar|manda|mande|mandar|passa|passe|passar|compartilhe|compartilha|\
compartilhar|qual|quais|traduza|traduz|resuma|resume|soletre|recite|leia|divulgue|divulga|divulgar|vaze|vaza|vazar|\
retorne|retorna|show|reveal|tell|repeat|print|output|display|write|dump|give|share|leak|paste|list|what|whats|\
translate|summarize|summarise|spell|read|expose|disclose|copy|echo|return";

/// Nouns naming the hidden setup outright.
const SETUP: &str = "prompt|prompts|system_prompt|pre_prompt|preprompt|system_message|mensagem_do_sistema|\
mensagem_de_sistema|instrucoes_iniciais|instrucoes_originais|instrucoes_ocultas|instrucoes_secretas|instrucoes_internas|\
instrucoes_do_sistema|instrucoes_de_sistema|regras_do_sistema|regras_internas|regras_ocultas|initial_instructions|\
original_instructions|hidden_instructions|secret_instructions|internal_instructions|system_instructions|system_rules|\
hidden_rules|internal_rules|configuracao_inicial|initial_configuration";

const SETUP_WEAK: &str = "instrucoes|instrucao|instructions|instruction|diretrizes|guidelines|directives|configuracao|\
configuracoes|configuration|settings|config|programacao|programming|ordens|orders";

const SETUP_AIMED: &str = "suas|seus|tuas|teus|your|iniciais|initial|originais|original|ocultas|hidden|secretas|secret|\
internas|internal|system|sistema|acima|above|anteriores|previous|prior|recebeu|received|given|deram|passaram|programad*|\
programmed|configurad*|configured|verbatim|literalmente|literally|palavra_por_palavra|word_for_word|exatamente|exactly";

const ROLES: &str = "sistema|system|admin|adm|administrador*|administrator|desenvolvedor*|developer*|dev|devs|\
programador*|programmer|engenheir*|engineer|root|superuser|superusuario|sudo|staff|funcionari*|employee|gerente|manager|\
supervisor*|moderador*|moderator|suporte_tecnico|tech_support|openai|anthropic|criador|creator|dan|jailbroken|\
jailbreak|unrestricted|irrestrit*|sem_restricoes|sem_filtro*|sem_censura|without_restrictions|without_filters|\
no_restrictions|no_rules|sem_regras|evil|malvad*|maligno|hacker|chatgpt|gpt|outra_ia|another_ai|different_ai|\
outro_assistente|another_assistant|ia_sem|ai_without|dono|owner|ceo|diretor*|director|uncensored|unfiltered|\
sem_limites|sem_limite|without_limits|no_limits|no_limitations";

const MODES: &str = "desenvolvedor|developer|dev|debug|depuracao|admin|administrador|administrator|god|deus|jailbreak|\
jailbroken|root|sudo|superuser|unrestricted|irrestrito|sem_restricoes|sem_filtro|sem_censura|uncensored|unfiltered|\
dan|evil|hacker|desenvolvimento|development|diagnostico";

/// Every rule, strongest signals first.
pub(crate) fn all() -> Vec<Rule> {
    let mut rules = override_rules();
    rules.extend(role_play_rules());
    rules.extend(extraction_rules());
    rules.extend(social::rules());
    rules
}

fn override_rules() -> Vec<Rule> {
    let r = |p: Phrase| Rule::new(AttackKind::Override, p);
    vec![
        r(Phrase::new(&format!("{DROP_VERBS} ~4 {STRONG_OBJECTS}")).not_near(FIRST_PERSON).not_after(CUSTOMER_TOPICS)),
        r(Phrase::new(&format!("{DROP_VERBS} ~2 tudo|everything|anything ~3 {TOLD}")).not_near(FIRST_PERSON)),
        r(Phrase::new(&format!(
            "{DROP_VERBS} ~1 as_regras|the_rules|as_politicas|the_policies|as_normas|as_restricoes|\
             the_restrictions|all_rules|your_rules"
        ))),
        r(Phrase::new(&format!(
            "{DROP_VERBS} ~1 que_voce_e|que_e|that_you_are|you_are|quem_voce_e|who_you_are|\
             sua_identidade|your_identity|seu_papel|your_role|sua_funcao|your_purpose|que_voce_foi|what_you_were"
        ))),
        r(Phrase::new(&format!("{DROP_VERBS} ~4 {WEAK_OBJECTS}")).near(AIMED).not_near(FIRST_PERSON)),
        r(Phrase::new(&format!("{DROP_VERBS} ~2 the_above|o_acima|everything_above|tudo_acima|all_of_the_above"))
            .not_near("mensagem|message|msg|texto|typo|erro|errado|pedido|order|endereco|address")),
        r(Phrase::new(&format!("{STOP_FOLLOWING} ~4 {STRONG_OBJECTS}|{WEAK_OBJECTS}")).near(AIMED)),
        r(Phrase::new(
            "a_partir_de_agora|de_agora_em_diante|daqui_pra_frente|daqui_para_frente|from_now_on|starting_now|\
             henceforth|from_this_point ~3 voce|tu|you ~2 e|sera|es|age|aja|agir|atue|atua|atuar|obedece|obedecer|\
             responde|responder|ignora|ignorar|finge|fingir|assume|assumir|esta_livre|nao_tem|nao_possui|nao_segue|\
             nao_precisa|so_responde|are|be|act|must|shall|respond|answer|reply|obey|ignore|have_no|no_longer|only|\
             pretend|play|roleplay|are_called|forget|disregard|is",
        )
        .not_near(LANGUAGES)),
        r(Phrase::new(
            "a_partir_de_agora|de_agora_em_diante|daqui_pra_frente|from_now_on|henceforth ~2 responda|responde|diga|\
             aja|age|seja|finja|obedeca|ignore|ignora|answer|respond|reply|say|act|be|pretend|obey ~3 sempre|apenas|so|\
             somente|always|only|never|nunca|qualquer|any|everything|tudo",
        )
        .not_near(LANGUAGES)),
        r(Phrase::new(
            "instrucao|instrucoes|instruction|instructions|mensagem|message|comando|command|ordem|order|aviso|nota|note|\
             update|atualizacao|alerta|alert ~1 do|de|from|of ~1 sistema|system|admin|administrador|administrator|\
             developer|desenvolvedor|desenvolvedores|developers + :",
        )),
        r(Phrase::new(
            "nova|novas|new|updated|urgente|urgent ~1 instrucao|instrucoes|instruction|instructions|ordem|ordens|order|\
             orders|comando|command|atualizacao|update ~2 do|de|from|of ~1 sistema|system|admin|administrador|\
             administrator|desenvolvedor|developer",
        )),
        r(Phrase::new(
            "suas|tuas|your|seguem|here_are|these_are|aqui_estao|estas_sao|essas_sao ~1 novas|new|updated|atualizadas|\
             verdadeiras|real|true|reais + instrucoes|instructions|regras|rules|diretrizes|directives|guidelines|ordens|orders",
        )),
        r(Phrase::new(
            "nova|novas|new|updated + instrucao|instrucoes|instruction|instructions|regra|regras|rule|rules|diretriz|\
             diretrizes|directive|directives|ordem|ordens|order|orders|prompt|tarefa|task|missao|mission + :",
        )),
        r(Phrase::new(
            "sua|tua|your + nova|new|real|verdadeira|true|unica|only ~1 tarefa|task|funcao|role|papel|missao|mission|\
             objetivo|objective|goal|persona|identidade|identity|personalidade|personality|proposito|purpose|job ~1 \
             e|sera|is|will_be|agora_e|now_is|:",
        )),
        r(Phrase::new("system|admin|sistema|developer + override|overrides|update|atualizacao|sobrescrita")),
    ]
}

fn role_play_rules() -> Vec<Rule> {
    let r = |p: Phrase| Rule::new(AttackKind::RolePlay, p);
    vec![
        r(Phrase::new(&format!(
            "finja|finge|fingir|pretend|pretending|suponha|simule|simula|simular|act_as|act_like|aja_como|\
             age_como|atue_como|atua_como|comporte_se_como|se_comporte_como|behave_as|behave_like|roleplay|role_play|\
             interprete|interpreta|faca_o_papel|faz_o_papel|assuma_o_papel|assume_o_papel|play_the_role|play_as|\
             voce_agora_e|agora_voce_e|voce_e_agora|you_are_now|now_you_are|youre_now|torne_se|transforme_se ~4 {ROLES}"
        ))
        .not_near("cliente|customer|comprador|buyer")),
        r(Phrase::new(
            "voce_e|you_are|voce_sera|you_will_be|seja|be|agora_e|now_are ~4 sem_filtro|sem_filtros|sem_restricoes|\
             sem_censura|sem_limites|sem_regras|unrestricted|unfiltered|uncensored|without_filters|without_restrictions|\
             without_limits|without_rules|jailbroken",
        )),
        r(Phrase::new(
            "nenhuma|no|sem ~1 regra|regras|rule|rules|restricao|restricoes|restriction|restrictions|limite|limites|\
             limit|limits|filtro|filtros|filter|filters|diretriz|diretrizes|guidelines ~3 se_aplica|se_aplicam|aplica|\
             apply|applies|vale|valem ~2 voce|you|a_voce|to_you|pra_voce",
        )),
        r(Phrase::new(&format!(
            "liberado|liberada|livre|free|released|isento|isenta|exempt|dispensado|dispensada ~3 suas|seus|tuas|your|\
             todas|all|any|qualquer|quaisquer ~1 {STRONG_OBJECTS}|{WEAK_OBJECTS}"
        ))),
        r(Phrase::new(
            "faca|fazer|fara|faz|do|will_do|obedeca|obey|obedecer|obedece ~2 o_que_eu_mandar|o_que_eu_disser|\
             tudo_que_eu_mandar|tudo_que_eu_disser|tudo_o_que_eu_mandar|tudo_o_que_eu_disser|whatever_i_say|\
             what_i_say|everything_i_say|whatever_i_tell|only_me|so_a_mim|apenas_a_mim",
        )),
        r(Phrase::new(&format!("modo|mode ~1 {MODES}"))),
        r(Phrase::new(&format!("{MODES} + mode|modo|mod"))),
        r(Phrase::new(
            "jailbreak*|jailbroken|do_anything_now|faca_qualquer_coisa_agora|dan_mode|modo_dan|stan_mode|dude_mode",
        )),
        r(Phrase::new("voce_e|you_are|seja|be|become|agora|now|act_as|aja_como|will_be|sera|torne_se ~1 dan")),
        r(Phrase::new(
            "voce|you|tu ~2 nao_esta_mais|no_longer|not_bound|esta_livre|are_free|free_from|livre_de|nao_tem_mais|\
             have_no|nao_possui ~2 preso|presa|limitad*|restrit*|bound|restricted|limited|regras|rules|restricoes|\
             restrictions|filtros|filters|censura|censorship|diretrizes|guidelines",
        )),
        r(Phrase::new(
            "responda|responde|responder|fale|fala|aja|age|answer|respond|reply|act|talk|operate|opere ~3 \
             sem|without|no ~1 restricoes|restricao|filtro|filtros|censura|limitacoes|restrictions|filters|\
             censorship|limitations|guardrails",
        )),
    ]
}

fn extraction_rules() -> Vec<Rule> {
    let r = |p: Phrase| Rule::new(AttackKind::PromptExtraction, p);
    let own = "eu|minha|minhas|meu|meus|my|i|mandei|enviei|sent|comando|command|cmd|windows|terminal";
    vec![
        r(Phrase::new(&format!("{REVEAL_VERBS} ~6 {SETUP}")).not_near(own).not_after(TOPIC_FOLLOWS)),
        r(Phrase::new(
            "system_prompt|prompt_do_sistema|prompt_de_sistema|seu_prompt|your_prompt|teu_prompt|\
             system_message|pre_prompt|preprompt|prompt_inicial|initial_prompt|prompt_original|original_prompt",
        )
        .not_near(own)),
        r(Phrase::new(
            "suas|seus|tuas|teus|your|the ~1 instrucoes|instructions|regras|rules|diretrizes|guidelines|configuracoes|\
             configuration|settings|programacao|programming + internas|ocultas|secretas|iniciais|originais|internal|\
             hidden|secret|initial|original",
        )),
        r(Phrase::new(
            "instrucoes|regras|diretrizes|configuracoes|prompt|ordens + secretas|ocultas|escondidas|secreto|oculto",
        )),
        r(Phrase::new(
            "instrucoes|diretrizes|configuracoes|prompt + internas|iniciais|originais|interno|inicial|original",
        )),
        r(Phrase::new(
            "hidden|secret|internal|initial|original|pre_programmed + instructions|rules|prompt|guidelines|directives|\
             configuration",
        )
        .not_near(FIRST_PERSON)),
        r(Phrase::new(&format!(
            "{REVEAL_VERBS} ~6 texto|text|mensagem|message|conteudo|content|tudo|everything|words|palavras ~4 \
             antes|before|acima|above ~3 primeira|first|inicio|beginning|start|conversa|conversation"
        ))),
        r(Phrase::new(&format!("{REVEAL_VERBS} ~6 {SETUP_WEAK}"))
            .near(SETUP_AIMED)
            .not_near(FIRST_PERSON)
            .not_after(TOPIC_FOLLOWS)),
        r(Phrase::new(&format!("{REVEAL_VERBS} ~5 regras|rules"))
            .near(
                "iniciais|initial|originais|original|ocultas|hidden|secretas|secret|internas|internal|acima|above|\
                   recebeu|received|given|programad*|programmed|verbatim|literalmente|word_for_word",
            )
            .not_near(FIRST_PERSON)),
        r(Phrase::new(
            "repita|repete|repetir|repeat|imprima|imprime|print|output|copie|copia|copy|escreva|escreve|write|mostre|\
             mostra|show|cole|paste|diga|say|tell|recite|echo ~3 tudo|everything|all|texto|text|words|palavras|\
             conteudo|content|linhas|lines ~3 acima|above|preceding|precedente|anteriormente|before_this|antes_disso",
        )
        .not_near(FIRST_PERSON)),
        r(Phrase::new(
            "starting_with|comecando_com|comecando_por|begins_with|start_with|that_starts_with ~2 you_are|voce_e",
        )),
        r(Phrase::new(
            "o_que|what|quais|which|como|how ~3 te_programaram|you_were_programmed|foi_instruido|foi_instruida|\
             were_instructed|were_told|te_disseram_para|te_disseram_pra|te_mandaram|te_instruiram|were_you_told",
        )),
    ]
}
