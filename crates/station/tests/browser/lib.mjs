// Shared by the browser scenarios: Debian's Chromium through playwright-core, the station's
// address and accounts from the Rust test (environment), screenshots into its folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const station = {
  url: process.env.STATION_URL,
  accounts: JSON.parse(process.env.STATION_ACCOUNTS || '{}'),
  people: JSON.parse(process.env.STATION_PEOPLE || '[]'),
  shots: process.env.STATION_SHOTS,
};

// Without these flags Chromium waits on a network this machine does not have.
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** A fresh Chromium profile with one page of `viewport` size. */
export async function open(viewport = { width: 1366, height: 768 }) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'station-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport,
    locale: 'zh-CN',
  });
  context.setDefaultTimeout(30000);
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
  return {
    context,
    page,
    errors,
    urls,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `body` with a fresh browser (`{ page, errors }`), which must end without script errors;
 * on a failure keeps a screenshot (`failure-<name>`) and the page's text for the log.
 */
export async function session(name, body) {
  const b = await open();
  try {
    await body(b);
    // Script errors include the page's own breaches of its Content-Security-Policy.
    check(b.errors.length === 0, 'no script errors: ' + b.errors.join('; '));
    await sessionKeptOutOfReach(b);
  } catch (e) {
    await shot(b.page, 'failure-' + name).catch(() => {});
    console.error(await b.page.evaluate(() => document.querySelector('main').innerText).catch(() => ''));
    throw e;
  } finally {
    await b.close();
  }
}

/** The session cookie, if the page logged in: HttpOnly and SameSite=Strict, out of the
 *  script's reach, and its value in no URL the page asked for. */
async function sessionKeptOutOfReach(b) {
  const cookie = (await b.context.cookies()).find((c) => c.name === 'station_session');
  if (!cookie || !cookie.value) return;
  check(cookie.httpOnly && cookie.sameSite === 'Strict', 'the session cookie is HttpOnly, SameSite=Strict');
  const seen = await b.page.evaluate(() => document.cookie).catch(() => '');
  check(!seen.includes(cookie.value), 'the page script cannot read the session');
  const leaked = b.urls.filter((u) => u.includes(cookie.value) || /[?&]token=/.test(u));
  check(leaked.length === 0, 'no session token in a URL: ' + leaked.join(' '));
}

export async function shot(page, name) {
  fs.mkdirSync(station.shots, { recursive: true });
  await page.screenshot({ path: path.join(station.shots, name + '.png'), fullPage: true });
}

export function check(condition, what) {
  if (!condition) throw new Error('check failed: ' + what);
}

/** Logs in with the keyboard: name, Tab, password, Enter. */
export async function login(page, who) {
  await page.goto(station.url + '/');
  await page.locator('#login-name').waitFor();
  await page.focus('#login-name');
  await page.keyboard.type(who);
  await page.keyboard.press('Tab');
  await page.keyboard.type(station.accounts[who]);
  await page.keyboard.press('Enter');
  await page.locator('#nav:visible, #screen-password:visible').first().waitFor();
  if (await page.locator('#screen-password').isVisible()) {
    // The station's first password opens only the screen that replaces it.
    check(await page.locator('#nav').isHidden(), 'nothing else is offered with a first password');
    await shot(page, 'first-password');
    const mine = station.accounts[who] + '-mine';
    await page.fill('#password-current', station.accounts[who]);
    await page.fill('#password-new', mine);
    await page.fill('#password-repeat', mine);
    await page.click('#password-submit');
    station.accounts[who] = mine;
    station.changedPasswords = (station.changedPasswords || []).concat([who]);
  }
  await page.locator('#nav').waitFor();
}

/** Waits until every device in the status bar is ready. */
export async function devicesReady(page) {
  await page.waitForFunction(() => {
    const list = Array.from(document.querySelectorAll('#device-list .device'));
    return list.length >= 6 && list.every((d) => d.dataset.ok === 'true');
  });
}

/** What a person does at the simulated printer (open the cover, refill the feeder), through
 *  the simulator's own endpoint with a session of its own (the operator's, after the page's
 *  log-in: a first password opens nothing else). */
export async function atThePrinter(page, action) {
  const api = page.context().request;
  const who = 'operator';
  const login = await api.post(station.url + '/api/session', { data: { operator: who, password: station.accounts[who], bearer: true } });
  check(login.ok(), 'log-in for the printer action');
  const { token } = await login.json();
  const r = await api.post(station.url + '/api/sim/printer/' + action, { headers: { Authorization: 'Bearer ' + token } });
  check(r.status() === 204, 'simulated printer action ' + action + ' answered ' + r.status());
}

/** Fills the form for `person` directly (the keyboard path is the first scenario's). */
export async function fillPerson(page, p) {
  await page.selectOption('#f-id-type', 'resident_id');
  await page.fill('#f-id-number', p.id_number);
  await page.fill('#f-name', p.name);
  await page.fill('#f-valid-from', '2015-01-01');
  await page.fill('#f-valid-to', '长期');
  await page.fill('#f-occupation', '职员');
  await page.fill('#f-address', '北京市朝阳区建国路1号');
  await page.fill('#f-postcode', '100022');
  await page.fill('#f-mobile', '13800138000');
  // The form's medical insurance and the declaration the applicant accepts (申明).
  await page.fill('#f-household-address', '福建省泉州市鲤城区中山路2号');
  await page.selectOption('#f-category', 'employee');
  await page.fill('#f-agency', '石狮市医疗保险管理中心');
  await page.check('#f-declaration');
  // Birth date, sex and birthplace come from the ID number; typing events fill them.
  await page.waitForFunction(() => document.querySelector('#f-birth').value !== '');
}

/**
 * The job view's re-issue (a live card refused a new one): back on the form, which names the
 * old card and asks for the applicant's signed consent to stop it; ticked, the re-issue starts.
 */
export async function reissueWithConsent(page, oldCard) {
  await page.click('#reissue-button');
  await page.locator('#screen-apply').waitFor();
  check(await page.inputValue('#f-reissue') === oldCard, 'the form is a re-issue of ' + oldCard);
  check(await page.inputValue('#f-prev-card') === oldCard, 'the form names the card held');
  await page.waitForFunction(() => document.querySelector('[data-error-for="previous_card.consent_to_stop"]').textContent.length > 0);
  check(true, 'no re-issue without the signed consent to stop the old card');
  await page.check('#f-consent');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-error-for]')).every((p) => p.textContent === ''));
  await page.click('#issue-submit');
  await page.locator('#screen-progress').waitFor();
}

/** Takes the photo with the station's camera and waits for the check's verdict. */
export async function takePhoto(page) {
  await page.click('#capture');
  await page.waitForSelector('#photo-verdict.pass, #photo-verdict.fail');
  const verdict = await page.textContent('#photo-verdict');
  check(await page.isVisible('#photo-verdict.pass'), 'the photo passes the check: ' + verdict);
  await page.waitForFunction(() => document.querySelector('#photo-thumb').naturalWidth > 0);
}

/** Waits for the job's end; its status and detail. */
export async function jobEnd(page, timeout = 120000) {
  await page.waitForSelector('#job-result[data-status]', { timeout });
  return {
    status: await page.getAttribute('#job-result', 'data-status'),
    text: await page.textContent('#job-result'),
  };
}
