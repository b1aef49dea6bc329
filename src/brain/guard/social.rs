//! Social engineering: asking for other customers' data or for secrets, or using a claim of
//! authority ("sou o gerente", "I'm from IT") to get data, refunds or access without checks.

use super::AttackKind;
use super::matcher::Phrase;
use super::rules::Rule;

const ASK: &str = "passa|passe|passar|me_passa|manda|mande|mandar|envia|envie|enviar|mostra|mostre|mostrar|informa|\
informe|informar|fala|fale|diz|diga|dizer|me_da|me_de|lista|liste|listar|exporta|exporte|exportar|compartilha|\
compartilhe|compartilhar|consulta|consulte|consultar|puxa|puxe|puxar|preciso|quero|queria|gostaria|qual|quais|acessar|\
give|send|show|tell|list|export|share|provide|forward|need|want|lookup|look_up|pull|dump|what|whats|access";

const PERSONAL: &str = "dados|informacoes|info|infos|cpf|cnpj|rg|endereco|enderecos|telefone|telefones|celular|\
celulares|numero|numeros|whatsapp|email|emails|e_mail|contato|contatos|nome|nomes|cadastro|cadastros|historico|compras|\
pedidos|conversas|mensagens|cartao|cartoes|senha|senhas|lista|listagem|planilha|data|details|information|address|\
addresses|phone|phones|number|numbers|orders|history|purchases|conversations|messages|card|cards|records|list|pii";

/// Other people whose data the sender has no right to.
const OTHERS: &str = "cliente|clientes|customer|customers|usuario|usuarios|user|users|terceiros|comprador|compradores|\
buyer|buyers|consumidores|consumers|clients";

const SECRETS: &str = "api_key|apikey|api_keys|chave_da_api|chave_de_api|chave_api|api_token|token_da_api|\
token_de_api|token_de_acesso|access_token|bearer_token|secret_key|chave_secreta|chave_privada|private_key|credenciais|\
credentials|senha_do_admin|senha_de_admin|senha_do_administrador|senha_admin|admin_password|senha_do_sistema|\
senha_do_painel|senha_do_servidor|senha_do_banco|root_password|database_password|senha_root|connection_string|\
string_de_conexao|variaveis_de_ambiente|environment_variables|env_vars|arquivo_env|webhook_secret|client_secret|\
ssh_key|chave_ssh|login_do_painel|acesso_ao_painel|acesso_admin|admin_access|painel_admin|admin_panel|banco_de_dados|\
database|passwords|secrets|segredos|senhas_do";

/// Roles that would entitle someone to data or decisions a customer cannot get.
const AUTHORITY_ROLES: &str = "gerente|supervisor|supervisora|diretor|diretora|ceo|cto|admin|administrador|\
administradora|administrator|desenvolvedor|desenvolvedora|developer|programador|programadora|manager|director|auditor|\
auditora|auditoria|moderador|coordenador|coordenadora|dono_da_loja|dona_da_loja|dono_da_empresa|dona_da_empresa|socio|\
socia|owner_of|store_owner|business_owner|proprietario|proprietaria|funcionario|funcionaria|colaborador|colaboradora|\
employee|staff|tecnico|tecnica|technician|engenheiro|engenheira|engineer|policial|policia|police|officer|delegado|\
delegada|investigador|advogado|advogada|lawyer|attorney|fiscal|suporte|support|ti|it|seguranca|security|chefe|boss|\
head|lead|equipe|time|team|matriz|headquarters|openai|anthropic|google|meta";

const CLAIM: &str = "sou|eu_sou|aqui_e|quem_fala_e|falo_em_nome|falando_como|falo_como|i_am|im|this_is|\
speaking_as|i_work|we_are|somos|as_the|as_an|as_a|como_o|como_a|como_um|como_uma|on_behalf|em_nome";

const GRANT: &str = "aprova|aprove|aprovar|libera|libere|liberar|autoriza|autorize|autorizo|autorizar|processa|\
processe|processar|emite|emita|emitir|conceda|conceder|gera|gere|gerar|approve|authorize|process|issue|release|grant|\
generate";

const GRANTED: &str = "reembolso|estorno|refund|refunds|chargeback|credito|credit|desconto|discount|cupom|coupon|\
voucher|acesso|access|permissao|permission|privilegio|privilege|cancelamento|cancellation|gift_card|vale";

const UNCHECKED: &str = "sem|without|skip|pula|pule|pular|dispensa|dispense|dispensar|ignora|ignore|no_need|nao_precisa|\
nao_precisa_de|bypass ~2 verificacao|verificar|validacao|validar|confirmacao|confirmar|autenticacao|autenticar|\
verification|verify|verifying|validation|authentication|checking|check|checks|comprovante|protocolo|aprovacao|approval|\
2fa|otp|codigo|code|identidade|identity";

/// The sender's own data: "meus dados", "my orders".
const OWN: &str = "meu|meus|minha|minhas|my|mine|i|eu";

/// Requests that are attacks on their own, and requests that are only with an authority claim.
pub(crate) fn rules() -> Vec<Rule> {
    let r = |p: Phrase| Rule::new(AttackKind::SocialEngineering, p);
    vec![
        r(Phrase::new(&format!("{ASK} ~4 {PERSONAL} ~2 de|do|da|dos|das|of|from|for|about|sobre|com ~2 {OTHERS}"))
            .not_near(OWN)),
        r(Phrase::new(&format!("{ASK} ~3 other|another|outro|outra ~1 {OTHERS} ~3 {PERSONAL}")).not_near(OWN)),
        r(Phrase::new(&format!("{ASK} ~4 {SECRETS}")).not_near(OWN)),
        r(Phrase::new(&format!("{GRANT} ~4 {GRANTED}"))).with_authority(),
        r(Phrase::new(&format!("{ASK} ~4 {PERSONAL}"))).with_authority(),
        r(Phrase::new(UNCHECKED)).with_authority(),
    ]
}

/// A claim of authority: "sou o gerente", "I'm from IT", "aqui é da equipe de segurança".
pub(crate) fn claims() -> Vec<Phrase> {
    vec![
        Phrase::new(&format!("{CLAIM} ~3 {AUTHORITY_ROLES}"))
            .not_after("do_pedido|da_conta|da_compra|do_cartao|do_numero|da_encomenda|of_the_order|of_the_account"),
        Phrase::new(
            "como|as + gerente|administrador|administradora|admin|supervisor|supervisora|diretor|diretora|\
             desenvolvedor|developer|manager|administrator|dono|dona|owner|ceo|funcionario|funcionaria|employee|\
             auditor|tecnico|staff",
        ),
        Phrase::new(
            "from_it|from_the_it|it_department|it_team|it_support|equipe_de_ti|setor_de_ti|time_de_ti|da_ti|do_ti|\
             equipe_tecnica|equipe_de_seguranca|security_team|from_security|from_openai|from_anthropic|da_openai|\
             da_anthropic|do_google|from_google|do_whatsapp|from_whatsapp|da_meta|from_meta|dev_team|\
             equipe_de_desenvolvimento|development_team|suporte_interno|internal_support|eu_autorizo|i_authorize|\
             autorizo_voce|you_are_authorized|voce_esta_autorizado|voce_esta_autorizada|you_have_my_permission|\
             tem_minha_permissao|tem_minha_autorizacao",
        ),
        Phrase::new("trabalho_na|trabalho_no|trabalho_aqui|trabalho_pra|trabalho_para|i_work_at|i_work_for|work_here")
            .not_near("meu|no|pro|ao|do|o|my|from|after|depois|antes"),
    ]
}
