//! The `atende` command line. Operator-facing text is pt-BR first; `ATENDE_LANG=en`
//! switches help and messages to English.
//!
//! Layer 5.

mod audit;
mod chat;
mod check;
mod commands;
mod eval;
mod kb;
mod lang;
mod loadtest;
mod notify_deploy;
mod secrets;
mod tokens;
mod users;

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::Role;
use crate::config::KnowledgeSearch;
pub use lang::Lang;

/// Atende: atendente com IA para helpdesks de WhatsApp.
#[derive(Debug, Parser)]
#[command(name = "atende", version)]
pub struct Cli {
    /// Arquivo de configuração (padrão: ./atende.toml, se existir).
    #[arg(long, global = true, env = "ATENDE_CONFIG", value_name = "ARQUIVO")]
    pub config: Option<PathBuf>,
    /// Perfil (ex.: staging, production): usa ./atende.PERFIL.toml e recusa um banco de outro perfil.
    #[arg(long, global = true, env = "ATENDE_PROFILE", value_name = "PERFIL")]
    pub profile: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inicia o Atende: webhooks, endpoints de operação e workers da fila.
    Serve {
        /// Partes a executar: all (tudo), api (só HTTP) ou worker (só a fila).
        #[arg(long, value_enum, default_value = "all", env = "ATENDE_ROLE")]
        role: Role,
    },
    /// Aplica as migrações pendentes do banco de dados.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Gerencia clientes (tenants).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Fila de mensagens mortas (dead letters): ver e reprocessar.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Controla o bot em uma conversa.
    #[command(subcommand)]
    Conversation(ConversationCommand),
    /// Transferências para atendentes humanos: resumo, ticket e SLA.
    #[command(subcommand)]
    Handoff(HandoffCommand),
    /// Eventos enviados aos webhooks de saída do cliente (n8n): registro de entregas.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Pesquisas de satisfação (CSAT): notas dos clientes e média.
    #[command(subcommand)]
    Csat(CsatCommand),
    /// Chaves de recursos (feature flags) de um cliente, valendo na hora, sem reiniciar.
    #[command(subcommand)]
    Flags(FlagsCommand),
    /// Base de conhecimento de um cliente: importar e pesquisar.
    #[command(subcommand)]
    Kb(KbCommand),
    /// Usuários do painel e da API de administração: criar e listar.
    #[command(subcommand)]
    User(UserCommand),
    /// Tokens da API de administração (/api/v1): criar, listar e revogar.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Segredos dos clientes guardados cifrados: troca da chave mestra.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Persona de um cliente: histórico de versões e rollback.
    #[command(subcommand)]
    Persona(PersonaCommand),
    /// Conversa pelo terminal com o cérebro real do cliente (LLM configurado, ou só base de conhecimento).
    Chat {
        /// Cliente (slug).
        tenant: String,
    },
    /// Mede os detectores num arquivo JSONL rotulado ({"text": "...", "label": "..."} por linha).
    Eval {
        /// injection (attack/benign), sentiment (positive/negative/neutral) ou handoff (human/other).
        #[arg(value_enum)]
        detector: EvalDetector,
        /// Arquivo JSONL.
        #[arg(value_name = "ARQUIVO")]
        file: PathBuf,
    },
    /// Teste de carga: envia webhooks assinados a um Atende nesta máquina e resume latência e status.
    Loadtest(LoadtestArgs),
    /// Avisa o webhook de monitoramento (monitoring.webhook_url) de um deploy, em JSON assinado.
    NotifyDeploy {
        /// Versão implantada (ex.: 1.4.2 ou o hash do commit).
        #[arg(long)]
        version: String,
        /// Ambiente (ex.: production, staging).
        #[arg(long)]
        environment: Option<String>,
        /// Observações livres (ex.: o que mudou).
        #[arg(long)]
        notes: Option<String>,
    },
    /// Valida a configuração, o banco e todos os clientes, e mostra a configuração efetiva.
    Check {
        /// Arquivos de cliente a validar também (sem aplicar).
        #[arg(value_name = "ARQUIVO")]
        files: Vec<PathBuf>,
    },
}

/// `atende migrate …`
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Mostra as migrações aplicadas, pendentes e desconhecidas (sem alterar nada).
    Status,
}

/// `atende loadtest …`
#[derive(Debug, Clone, Args)]
pub struct LoadtestArgs {
    /// Endereço do Atende (só nesta máquina), ex.: http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Cliente (slug) cujo webhook genérico recebe a carga.
    #[arg(long)]
    pub tenant: String,
    /// Segredo HMAC do cliente ([webhook] secrets).
    #[arg(long, env = "ATENDE_LOADTEST_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Número de webhooks.
    #[arg(short = 'n', long = "requests", default_value_t = 1000)]
    pub requests: u64,
    /// Webhooks em paralelo.
    #[arg(short = 'c', long = "concurrency", default_value_t = 50)]
    pub concurrency: usize,
    /// Ritmo máximo, em webhooks por segundo (padrão: o mais rápido possível).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Contatos diferentes entre os quais as mensagens se distribuem.
    #[arg(long, default_value_t = 100)]
    pub contacts: u64,
    /// Tempo máximo do teste; o que faltar não é enviado.
    #[arg(long = "max-duration", default_value = "5m", value_parser = humantime::parse_duration)]
    pub max_duration: std::time::Duration,
    /// Também imprime o resumo no formato de texto do Prometheus.
    #[arg(long)]
    pub prom: bool,
}

/// `atende kb …`
#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Importa um arquivo CSV (cabeçalho com question,answer), JSONL ou Markdown (uma entrada por seção ##).
    Import {
        /// Cliente (slug).
        tenant: String,
        /// Arquivo .csv, .jsonl ou .md.
        #[arg(value_name = "ARQUIVO")]
        file: PathBuf,
        /// Formato, quando a extensão não diz: csv, jsonl ou markdown.
        #[arg(long)]
        format: Option<String>,
    },
    /// Pesquisa a base como o bot faz e mostra as entradas com a pontuação.
    Search {
        /// Cliente (slug).
        tenant: String,
        /// Texto da pergunta.
        text: String,
        /// Saída em JSON: [{"id","question","answer","score","coverage"}], da melhor para a pior.
        #[arg(long)]
        json: bool,
        /// No máximo este número.
        #[arg(long, default_value_t = 5)]
        limit: usize,
        /// Busca: memory (BM25 no Atende) ou database (busca textual do banco); padrão: [brain] knowledge_search.
        #[arg(long, value_parser = engine_parser())]
        engine: Option<KnowledgeSearch>,
    },
}

/// `--engine`: the two names of [`KnowledgeSearch`], listed in the help.
fn engine_parser() -> impl clap::builder::TypedValueParser<Value = KnowledgeSearch> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new([KnowledgeSearch::Memory.as_str(), KnowledgeSearch::Database.as_str()])
        .map(|name| name.parse().unwrap_or_default())
}

/// `atende persona …`
#[derive(Debug, Subcommand)]
pub enum PersonaCommand {
    /// Lista as versões da persona, da mais nova à mais antiga.
    History {
        /// Cliente (slug).
        tenant: String,
    },
    /// Volta a uma versão anterior da persona (por padrão, a penúltima).
    Rollback {
        /// Cliente (slug).
        tenant: String,
        /// Versão a restaurar.
        #[arg(long)]
        to: Option<i64>,
    },
}

/// Detectors `atende eval` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalDetector {
    /// Prompt-injection guard: labels attack / benign.
    Injection,
    /// Sentiment: labels positive / negative / neutral.
    Sentiment,
    /// Request for a person: labels human / other.
    Handoff,
}

/// `atende tenant …`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Cria ou atualiza um cliente a partir de um arquivo TOML (idempotente).
    Apply {
        /// Arquivo do cliente, ex.: tenant.toml.
        #[arg(value_name = "ARQUIVO")]
        file: PathBuf,
    },
    /// Mostra um cliente com os segredos mascarados.
    Show {
        /// Identificador (slug) do cliente.
        slug: String,
    },
    /// Lista os clientes.
    List,
}

/// `atende dlq …`
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Lista as mensagens mortas, das mais recentes às mais antigas.
    List(DlqFilter),
    /// Mostra um job com o histórico de tentativas (JSON).
    Show {
        /// Id do job.
        id: i64,
    },
    /// Recoloca jobs mortos na fila, com as tentativas zeradas.
    Replay {
        /// Ids dos jobs.
        #[arg(required_unless_present = "all")]
        ids: Vec<i64>,
        /// Todos os que casarem com o filtro.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[command(flatten)]
        filter: DlqFilter,
    },
    /// Descarta jobs mortos.
    Discard {
        /// Ids dos jobs.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}

/// `atende handoff …`
#[derive(Debug, Subcommand)]
pub enum HandoffCommand {
    /// Lista as transferências de um cliente, das mais novas às mais antigas.
    List {
        /// Cliente (slug).
        tenant: String,
        /// No máximo este número.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Saída em JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `atende events …`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Registro de entregas de eventos de um cliente, das mais novas às mais antigas.
    Log {
        /// Cliente (slug).
        tenant: String,
        /// No máximo este número.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Saída em JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `atende csat …`
#[derive(Debug, Subcommand)]
pub enum CsatCommand {
    /// Pesquisas de satisfação de um cliente, das mais novas às mais antigas, com a média dos últimos 30 dias.
    List {
        /// Cliente (slug).
        tenant: String,
        /// No máximo este número.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Saída em JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `atende flags …`
#[derive(Debug, Subcommand)]
pub enum FlagsCommand {
    /// Mostra cada chave com o valor em vigor e se é o padrão.
    List {
        /// Cliente (slug).
        tenant: String,
        /// Saída em JSON.
        #[arg(long)]
        json: bool,
    },
    /// Muda uma chave: on/off (ai, knowledge, embeddings, humour, csat, handoff, fallback_email,
    /// fallback_sms, events), primary/fallback (llm_provider) ou um modelo (llm_model).
    Set {
        /// Cliente (slug).
        tenant: String,
        /// Nome da chave.
        #[arg(value_name = "CHAVE")]
        name: String,
        /// Valor.
        #[arg(value_name = "VALOR")]
        value: String,
    },
    /// Volta uma chave ao padrão.
    Unset {
        /// Cliente (slug).
        tenant: String,
        /// Nome da chave.
        #[arg(value_name = "CHAVE")]
        name: String,
    },
}

/// `atende user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Cria um usuário; a senha vem de --password-file ou da entrada padrão (pipe).
    Add {
        /// E-mail de login.
        email: String,
        /// Papel: admin (tudo), operator (atendimento) ou viewer (só leitura).
        #[arg(long, default_value = "operator")]
        role: String,
        /// Arquivo com a senha (a primeira linha; pelo menos 10 caracteres).
        #[arg(long, value_name = "ARQUIVO")]
        password_file: Option<std::path::PathBuf>,
    },
    /// Lista os usuários com papel e estado.
    List {
        /// Saída em JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `atende secrets …`
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Gera uma nova chave mestra, recifra com ela todos os segredos dos clientes e mantém as
    /// antigas no arquivo de chaves; processos em execução passam a usá-la sem reiniciar.
    RotateMaster,
    /// Recifra todos os segredos dos clientes com a chave mestra atual (a primeira do arquivo).
    Reseal,
    /// Gera um novo segredo de entrada de um cliente e o mostra uma única vez, sozinho numa
    /// linha; os anteriores continuam valendo durante a carência e depois são recusados.
    Rotate {
        /// Cliente (slug).
        tenant: String,
        /// webhook (segredo HMAC das assinaturas) ou inbound_token (o ?token= de quem não assina).
        #[arg(value_enum)]
        what: RotateTarget,
        /// Por quanto tempo os segredos anteriores ainda valem, ex.: 24h, 30m, 0 (imediato).
        #[arg(long, value_name = "DURAÇÃO", default_value = "24h")]
        grace: String,
    },
    /// Grava um segredo de provedor de um cliente (ex.: whaticket.token, llm.api_key), que passa
    /// a valer no lugar do arquivo do cliente; o valor vem de --from-file, da entrada padrão ou
    /// é digitado sem eco.
    Set {
        /// Cliente (slug).
        tenant: String,
        /// Chave do arquivo do cliente: whaticket.token, whaticket.user_password, llm.api_key,
        /// llm.fallback.api_key, events[0].secret, fallback.email.password, fallback.sms.token…
        key: String,
        /// Arquivo com o valor (primeira linha).
        #[arg(long, value_name = "ARQUIVO")]
        from_file: Option<PathBuf>,
    },
    /// Apaga um segredo gravado com `secrets set`: volta a valer o do arquivo do cliente.
    Unset {
        /// Cliente (slug).
        tenant: String,
        /// Chave, como em `secrets set`.
        key: String,
    },
    /// Lista os segredos de entrada girados e os de provedor gravados de um cliente (nunca os valores).
    List {
        /// Cliente (slug).
        tenant: String,
        /// Saída em JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What `atende secrets rotate` replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RotateTarget {
    /// The webhook HMAC secret.
    Webhook,
    /// The inbound `?token=`.
    #[value(name = "inbound_token", alias = "inbound-token")]
    InboundToken,
}

/// `atende token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Cria um token para um usuário e o mostra uma única vez, sozinho numa linha.
    Create {
        /// E-mail do dono do token (tem o papel dele).
        email: String,
        /// Para que serve (ex.: n8n, backoffice).
        #[arg(long)]
        name: String,
        /// Validade, ex.: 90d, 12h, 1y (padrão: não expira).
        #[arg(long, value_name = "DURAÇÃO")]
        expires: Option<String>,
    },
    /// Lista os tokens (nunca o valor), dos mais novos aos mais antigos.
    List {
        /// Só os deste usuário (e-mail).
        #[arg(long)]
        user: Option<String>,
        /// Saída em JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoga um token pelo id: ele para de funcionar na hora.
    Revoke {
        /// Id do token (veja atende token list).
        id: i64,
    },
}

/// Dead-letter filter options.
#[derive(Debug, Clone, Args)]
pub struct DlqFilter {
    /// Só deste cliente (slug).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Só deste tipo de job (reply, deliver, handoff, sla, notify, idle, fallback).
    #[arg(long)]
    pub kind: Option<String>,
    /// No máximo este número.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Saída em JSON.
    #[arg(long)]
    pub json: bool,
}

/// `atende conversation …`
#[derive(Debug, Subcommand)]
pub enum ConversationCommand {
    /// Devolve a conversa ao bot (depois que um atendente humano assumiu).
    Resume {
        /// Cliente (slug).
        tenant: String,
        /// Número do contato, só dígitos com DDI (ex.: 5511999999999).
        contact: String,
    },
    /// Encerra o atendimento: a próxima mensagem começa um novo contexto (com saudação).
    Close {
        /// Cliente (slug).
        tenant: String,
        /// Número do contato, só dígitos com DDI.
        contact: String,
    },
    /// Pausa o bot nesta conversa (um humano responde).
    Pause {
        /// Cliente (slug).
        tenant: String,
        /// Número do contato, só dígitos com DDI.
        contact: String,
    },
}

/// Parses the command line (help in the operator's language) and runs it.
pub async fn run() -> std::process::ExitCode {
    let lang = Lang::from_env();
    let command = lang::localize(Cli::command(), lang);
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    match commands::execute(cli, lang).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: {err:#}", lang.pick("erro", "error"));
            std::process::ExitCode::FAILURE
        }
    }
}
