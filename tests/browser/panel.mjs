// Panel flows in real headless Chromium (Debian's), driven by playwright-core. Run by the Rust
// test `browser::panel_flows_in_headless_chromium`, which starts Atende and seeds the data;
// everything this script needs comes from the environment. Screenshots go to ATENDE_ARTIFACTS.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('ATENDE_URL');
const password = env('ATENDE_PASSWORD');
const [operator, viewer] = [env('ATENDE_OPERATOR'), env('ATENDE_VIEWER')];
const conversation = `${base}/painel/conversations/${env('ATENDE_TENANT')}/${env('ATENDE_CONTACT')}`;
const deadLetter = `${base}/painel/dead-letters/${env('ATENDE_DEAD_LETTER')}`;
const artifacts = env('ATENDE_ARTIFACTS');
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.ATENDE_TEST_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // This machine's network is closed: keep Chromium from calling home.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});

const check = (ok, what) => {
  if (!ok) throw new Error(what);
  console.log(`ok - ${what}`);
};

async function signIn(page, email, secret) {
  await page.goto(`${base}/painel/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', secret);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
}

try {
  const context = await browser.newContext({ locale: 'pt-BR' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);

  await signIn(page, operator, 'senha-errada-123');
  check((await page.textContent('body')).includes('E-mail ou senha incorretos.'), 'a wrong password is refused with a clear message');
  check(page.url().endsWith('/painel/login'), 'and stays on the login page');
  await page.screenshot({ path: join(artifacts, '01-wrong-password.png'), fullPage: true });

  await signIn(page, operator, password);
  check(new URL(page.url()).pathname === '/painel', 'the operator lands on the dashboard');
  check(await page.isVisible('#live'), 'the dashboard shows the live figures');
  await page.screenshot({ path: join(artifacts, '02-dashboard.png'), fullPage: true });

  await page.goto(`${base}/painel/tenants/${env('ATENDE_TENANT')}/persona`);
  await page.fill('textarea[name=instructions]', 'Fale como um pirata.');
  await page.fill('#preview-message', 'Quando chega meu pedido?');
  await page.click('#preview-button');
  await page.waitForSelector('#preview-draft');
  check((await page.textContent('#preview-draft')).includes('marujo'), 'the live preview answers with the unsaved draft');
  check(!(await page.textContent('#preview-saved')).includes('marujo'), 'beside the answer of the saved persona');
  check(new URL(page.url()).pathname.endsWith('/persona'), 'without leaving the editor');
  await page.screenshot({ path: join(artifacts, '03-persona-preview.png'), fullPage: true });

  await page.goto(conversation);
  check((await page.textContent('#state')).trim() === 'bot', 'the conversation starts with the bot');
  await Promise.all([page.waitForURL(/ok=ai_off/), page.click('#ai-toggle')]);
  check((await page.textContent('#state')).trim() === 'com a equipe', 'pausing the bot hands the conversation to the team');
  check((await page.textContent('.notice')).includes('Bot pausado'), 'and the page says so');
  await page.screenshot({ path: join(artifacts, '04-conversation-paused.png'), fullPage: true });

  await page.goto(deadLetter);
  check((await page.textContent('#job-state')).trim() === 'dead', 'the failed delivery is a dead letter');
  await Promise.all([page.waitForURL(/ok=replayed/), page.click('#replay')]);
  check((await page.textContent('#job-state')).trim() === 'queued', 'replay queues it again');
  await page.screenshot({ path: join(artifacts, '05-dead-letter-replayed.png'), fullPage: true });

  await Promise.all([page.waitForURL(/\/painel\/login$/), page.click('form[action="/painel/logout"] button')]);
  await page.goto(`${base}/painel`);
  check(new URL(page.url()).pathname === '/painel/login', 'after logout the panel asks to sign in again');

  await signIn(page, viewer, password);
  await page.goto(conversation);
  check((await page.locator('#ai-toggle').count()) === 0, 'a viewer sees no action buttons');
  const status = await page.evaluate(async (url) => {
    const csrf = document.querySelector('input[name=csrf]').value;
    const body = new URLSearchParams({ csrf, enabled: 'true' });
    const response = await fetch(`${url}/ai`, { method: 'POST', body, redirect: 'manual' });
    return response.status;
  }, conversation);
  check(status === 403, `a viewer's own POST is refused by the server (${status})`);
  await page.goto(conversation);
  check((await page.textContent('#state')).trim() === 'com a equipe', 'and nothing changed');
  await page.screenshot({ path: join(artifacts, '06-viewer-read-only.png'), fullPage: true });

  await page.goto(`${base}/painel/lang/en`);
  await page.goto(conversation);
  check((await page.textContent('nav')).includes('Conversations'), 'English is one click away');
  check(!(await page.textContent('body')).includes('Send as the bot'), 'and a viewer still gets no send form');
  await context.close();
} finally {
  await browser.close();
}
