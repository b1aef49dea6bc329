//! The prompt: the persona's system instruction (a minijinja template the tenant may
//! override), recent turns, and the new (burst) turn, customer text always fenced as data.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use minijinja::Environment;
use serde::Serialize;

use super::guard;
use crate::config::persona::{Formality, PersonaTable};
use crate::domain::{Direction, Language};
use crate::llm::{Prompt, Role, Turn};
use crate::store::{KnowledgeRow, ReplyContext};

const SYSTEM_PT_BR: &str = include_str!("../../assets/templates/system.pt-BR.j2");
const SYSTEM_EN: &str = include_str!("../../assets/templates/system.en.j2");

/// Everything the system template can use.
#[derive(Debug, Clone, Serialize)]
pub struct PromptInputs<'a> {
    /// Company name.
    pub tenant: &'a str,
    /// Tone of voice.
    pub tone: Option<&'a str>,
    /// `voce` or `senhor`.
    pub formality: &'static str,
    /// Empathy rules on.
    pub empathy: bool,
    /// Humour allowed.
    pub humor: bool,
    /// `negative`, `neutral` or `positive`.
    pub mood: &'static str,
    /// Closing phrase.
    pub closing: Option<&'a str>,
    /// Outside business hours now.
    pub out_of_hours: bool,
    /// Running summary of older turns.
    pub summary: Option<String>,
    /// Knowledge snippets, best first.
    pub knowledge: Vec<&'a KnowledgeRow>,
    /// Facts must be cited.
    pub grounded_only: bool,
    /// The tenant's extra instructions.
    pub instructions: Option<&'a str>,
}

impl<'a> PromptInputs<'a> {
    /// Inputs from the persona; the caller fills mood, hours, summary and knowledge.
    pub fn from_persona(tenant: &'a str, persona: &'a PersonaTable) -> Self {
        Self {
            tenant,
            tone: persona.tone.as_deref(),
            formality: match persona.formality() {
                Formality::Voce => "voce",
                Formality::Senhor => "senhor",
            },
            empathy: persona.empathy(),
            humor: persona.humor(),
            mood: "neutral",
            closing: persona.closing.as_deref(),
            out_of_hours: false,
            summary: None,
            knowledge: Vec::new(),
            grounded_only: persona.grounded_only.unwrap_or(false),
            instructions: persona.instructions.as_deref().filter(|s| !s.trim().is_empty()),
        }
    }
}

/// Renders the system instruction from the tenant's template or the built-in one.
pub fn render_system(persona: &PersonaTable, inputs: &PromptInputs<'_>) -> Result<String, String> {
    let custom = persona.template_source()?;
    let source = match (&custom, persona.language()) {
        (Some(text), _) => text.as_str(),
        (None, Language::PtBr) => SYSTEM_PT_BR,
        (None, Language::En) => SYSTEM_EN,
    };
    let env = compiled(source).map_err(|e| format!("persona.prompt_template: {e}"))?;
    let template = env.get_template("system").map_err(|e| e.to_string())?;
    let text = template.render(minijinja::value::Serde(inputs)).map_err(|e| format!("persona.prompt_template: {e}"))?;
    Ok(collapse_blank_lines(&text))
}

/// Distinct templates kept compiled; past it the cache starts afresh.
const MAX_COMPILED: usize = 256;

/// The system template compiled from `source`, from a process-wide cache: compiling costs
/// more than rendering and runs twice per answer otherwise, while templates change rarely.
fn compiled(source: &str) -> Result<Arc<Environment<'static>>, minijinja::Error> {
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<Environment<'static>>>>> = LazyLock::new(Mutex::default);
    if let Some(env) = CACHE.lock().unwrap_or_else(PoisonError::into_inner).get(source) {
        return Ok(env.clone());
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    env.add_template_owned("system", source.to_string())?;
    let env = Arc::new(env);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= MAX_COMPILED {
        cache.clear();
    }
    cache.insert(source.to_string(), env.clone());
    Ok(env)
}

/// Checks that a tenant's template compiles (for `tenant apply` and `check`).
pub fn validate_template(persona: &PersonaTable) -> Result<(), String> {
    let inputs = PromptInputs::from_persona("ACME", persona);
    render_system(persona, &inputs).map(|_| ())
}

/// Builds the prompt: history turns, then the fenced burst as the new user turn.
pub fn build_prompt(ctx: &ReplyContext, system: String) -> Prompt {
    let mut turns: Vec<Turn> = ctx
        .history
        .iter()
        .map(|m| match m.direction {
            Direction::Inbound => Turn { role: Role::User, text: guard::fence(&m.body) },
            _ => Turn { role: Role::Assistant, text: m.body.clone() },
        })
        .collect();
    turns.push(Turn { role: Role::User, text: guard::fence(&burst_text(ctx)) });
    Prompt { system, turns }
}

/// The unanswered messages as one turn.
pub fn burst_text(ctx: &ReplyContext) -> String {
    ctx.pending.iter().map(|m| m.body.as_str()).collect::<Vec<_>>().join("\n")
}

fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_template_reflects_the_persona_and_mood() {
        let persona = PersonaTable {
            tone: Some("acolhedor".into()),
            formality: Some("senhor".into()),
            humor: Some(true),
            ..PersonaTable::default()
        };
        let mut inputs = PromptInputs::from_persona("Loja Exemplo", &persona);
        let calm = render_system(&persona, &inputs).unwrap();
        assert!(calm.contains("Loja Exemplo") && calm.contains("acolhedor") && calm.contains("o senhor"), "{calm}");
        assert!(calm.contains("humor"));
        inputs.mood = "negative";
        let upset = render_system(&persona, &inputs).unwrap();
        assert!(upset.contains("empatia") && upset.contains("Não use humor"), "{upset}");
    }

    #[test]
    fn a_tenant_template_replaces_the_built_in_one_and_bad_syntax_is_reported() {
        let persona = PersonaTable { prompt_template: Some("Olá da {{ tenant }}!".into()), ..PersonaTable::default() };
        let inputs = PromptInputs::from_persona("ACME", &persona);
        assert_eq!(render_system(&persona, &inputs).unwrap(), "Olá da ACME!");
        let broken = PersonaTable { prompt_template: Some("{% if %}".into()), ..PersonaTable::default() };
        assert!(validate_template(&broken).unwrap_err().contains("prompt_template"));
    }
}
