// One card from log-in to hand-over, as an operator at a 1366x768 counter screen: the form by
// keyboard only with validation as one types, the photo and its verdict, every step of the
// job with the time left, the printed face, the signature. Then the same person again: the
// duplicate is shown with its way out (re-issue), which is taken. Then the supervisor's
// screens, the English switch and a tablet. Prints one JSON line for the Rust test.
import { station, session, shot, check, login, devicesReady, fillPerson, takePhoto, jobEnd, reissueWithConsent } from './lib.mjs';

const person = station.people[0];
const result = {};

/** Opens the job's application form from the job view (打印申请表): its address, text, and whether print hides the screen hint. */
async function printedForm(page, name) {
  check(await page.isVisible('#print-form'), 'the job view offers the application form to print');
  const [tab] = await Promise.all([page.context().waitForEvent('page'), page.click('#print-form')]);
  await tab.waitForLoadState('load');
  const text = await tab.textContent('body');
  await shot(tab, name);
  await tab.emulateMedia({ media: 'print' });
  const printHides = await tab.evaluate(() => getComputedStyle(document.querySelector('.screen-only')).display === 'none');
  const url = tab.url();
  await tab.close();
  return { url, text, printHides };
}
await session('operator', async ({ page }) => {
  await page.goto(station.url + '/');
  await shot(page, '01-login');
  await login(page, 'operator');
  await devicesReady(page);

  // Keyboard only. The ID type has the focus; a wrong check character is caught as it is typed.
  check(await page.evaluate(() => document.activeElement.id) === 'f-id-type', 'the form starts at the ID type');
  await page.keyboard.press('Tab');
  const wrong = person.id_number.slice(0, 17) + (person.id_number[17] === '0' ? '1' : '0');
  await page.keyboard.type(wrong);
  await page.waitForFunction(() => document.querySelector('[data-error-for="holder.id_number"]').textContent.length > 0);
  check(await page.getAttribute('#f-id-number', 'aria-invalid') === 'true', 'the wrong number is marked');
  await shot(page, '02-form-validation-as-you-type');
  await page.keyboard.press('Backspace');
  await page.keyboard.type(person.id_number[17]);
  await page.waitForFunction(() => document.querySelector('[data-error-for="holder.id_number"]').textContent === '');
  const typed = [
    ['f-name', person.name],
    ['f-sex', null], ['f-birth', null], ['f-ethnicity', null], ['f-birthplace', null], ['f-nationality', null],
    ['f-valid-from', '2015-01-01'],
    ['f-valid-to', '长期'],
    ['f-occupation', '职员'],
    ['f-address', '北京市朝阳区建国路1号'],
    ['f-household-address', '福建省泉州市鲤城区中山路2号'],
    ['f-postcode', '100022'],
    ['f-mobile', '13800138000'],
  ];
  for (const [id, text] of typed) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => document.activeElement.id);
    check(at === id, 'Tab reaches ' + id + ' (at ' + at + ')');
    if (text) await page.keyboard.type(text);
  }
  check(await page.inputValue('#f-birth') === `${person.id_number.slice(6, 10)}-${person.id_number.slice(10, 12)}-${person.id_number.slice(12, 14)}`, 'birth date from the ID number');
  // The person chooses the serving bank among the counter's region's (RULE 8).
  result.banks = await page.$$eval('#f-bank option', (o) => o.map((x) => x.value).filter((v) => v));
  await page.selectOption('#f-bank', 'ICBC');
  // The Fujian form's fields: household address, the category (特困: no card fees), its agency,
  // and the declaration, without which the form is refused.
  await page.fill('#f-agency', '石狮市医疗保险管理中心');
  result.categories = await page.$$eval('#f-category option', (o) => o.map((x) => x.value).filter((v) => v));
  await page.selectOption('#f-category', 'vip').catch(() => {});
  check(await page.inputValue('#f-category') === '', 'only the list\'s categories can be chosen');
  await page.selectOption('#f-category', 'extremely-poor');
  await page.focus('#f-declaration');
  await page.keyboard.press('Space');
  check(await page.isChecked('#f-declaration'), 'the declaration is accepted by keyboard');
  check((await page.textContent('#declaration-text')).includes('真实'), 'the declaration is shown to the applicant');
  await page.keyboard.press('Alt+C');
  await page.waitForSelector('#photo-verdict.pass, #photo-verdict.fail');
  check(await page.isVisible('#photo-verdict.pass'), 'the photo passes: ' + (await page.textContent('#photo-verdict')));
  await page.waitForFunction(() => document.querySelector('#photo-thumb').naturalWidth > 0);
  await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-error-for]')).every((p) => p.textContent === ''));
  await shot(page, '03-form-filled-with-photo');
  await page.focus('#f-mobile');
  await page.keyboard.press('Enter');

  // The job: every step seen, the time left shown while it runs.
  await page.locator('#screen-progress').waitFor();
  const seen = {};
  const lefts = new Set();
  let midShot = false;
  while (!(await page.$('#job-result[data-status]'))) {
    const states = await page.$$eval('#steps li', (li) => li.map((l) => [l.dataset.step, l.dataset.state]));
    for (const [step, state] of states) (seen[step] = seen[step] || new Set()).add(state);
    lefts.add(await page.textContent('#time-left'));
    if (!midShot && states.some(([, s]) => s === 'running')) { await shot(page, '04-progress-running'); midShot = true; }
    await page.waitForTimeout(100);
  }
  const end = await jobEnd(page);
  check(end.status === 'awaiting-handover', 'the card is made and waits at the hand-over: ' + end.text);
  const states = await page.$$eval('#steps li', (li) => li.map((l) => [l.dataset.step, l.dataset.state]));
  check(states.length === 13 && states.slice(0, 12).every(([, s]) => s === 'done'), 'the 12 steps to the eject done: ' + JSON.stringify(states));
  check(states[12][0] === 'hand-over' && states[12][1] === 'waiting', 'the hand-over waits for the signature: ' + JSON.stringify(states[12]));
  check(await page.isVisible('#to-stock'), 'the card may go to stock instead');
  check(Object.values(seen).some((s) => s.has('running')), 'a running step was shown');
  check(lefts.size > 1, 'the time left changed while the job ran: ' + [...lefts].join(' | '));
  check(await page.textContent('#time-left') === '0 秒', 'no time left at the end');

  // The application form to print and sign: its own tab, the job's number in its address only.
  const form = await printedForm(page, '04b-application-form');
  check(/\/api\/jobs\/\d+\/form$/.test(form.url), 'only the job number in the form\'s address: ' + form.url);
  for (const text of ['福建省社会保障卡申领表', person.name, person.id_number, '☑ 城乡居民基本医疗保险（特困人员）',
    '石狮市医疗保险管理中心', '福建省泉州市鲤城区中山路2号', '中国工商银行', '☑ 申请人已阅读并同意以上申明',
    '申请人（签字）', '监护人（签字）', '经办人']) {
    check(form.text.includes(text), 'the printed form shows ' + text);
  }
  check(form.printHides, 'the screen hint is not printed');
  result.formJob = form.url.match(/jobs\/(\d+)\/form/)[1];
  result.card = (await page.textContent('#job-result')).match(/[A-Z][0-9A-Z]{8}/)[0];
  await page.waitForFunction(() => document.querySelector('#face-preview').naturalWidth > 0);
  result.face = await page.$eval('#face-preview', (i) => [i.naturalWidth, i.naturalHeight]);
  await shot(page, '05-issued-with-printed-face');

  // Hand-over: the operator checks the receiver's ID document and types its number, the
  // receiver signs on the canvas.
  check(await page.evaluate(() => document.activeElement.id) === 'print-form', 'the print button kept the focus');
  await page.focus('#to-handover');
  await page.keyboard.press('Enter');
  await page.locator('#screen-handover').waitFor();
  check(await page.inputValue('#handover-card') === result.card, 'the card number is carried over');
  check(await page.inputValue('#handover-signer') === person.name, 'the signer is the holder');
  check(await page.evaluate(() => document.activeElement.id) === 'handover-id-number', 'the ID number is asked first');
  await page.click('#handover-submit');
  check(await page.isVisible('#handover-result.error'), 'no hand-over without the receiver\'s ID number');
  await page.fill('#handover-id-number', person.id_number);
  await page.click('#handover-submit');
  check((await page.textContent('#handover-result')).length > 0 && await page.isVisible('#handover-result.error'), 'no hand-over without a signature');
  const box = await page.locator('#signature').boundingBox();
  await page.mouse.move(box.x + 40, box.y + box.height * 0.6);
  await page.mouse.down();
  for (let i = 0; i <= 40; i++) {
    await page.mouse.move(box.x + 40 + i * 12, box.y + box.height * (0.5 + 0.3 * Math.sin(i / 3)));
  }
  await page.mouse.up();
  // Someone else comes for the card: a custodian without a recorded approval is refused (RULE 4).
  await page.selectOption('#handover-kind', 'custodian');
  await page.fill('#handover-signer', '王五');
  await page.fill('#handover-id-number', '110101199003070033');
  await page.click('#handover-submit');
  await page.waitForFunction(() => document.querySelector('#handover-result').textContent.includes('rule 4'));
  result.custodianRefused = await page.textContent('#handover-result');
  await shot(page, '06a-custodian-without-approval-refused');
  // The holder, their ID document checked.
  await page.selectOption('#handover-kind', 'holder');
  await page.fill('#handover-signer', person.name);
  await page.fill('#handover-id-number', person.id_number);
  await page.click('#handover-submit');
  await page.waitForFunction(() => document.querySelector('#handover-result').dataset.done);
  const handed = await page.textContent('#handover-result');
  check(handed.includes(result.card), 'hand-over recorded');
  check(!handed.includes(person.id_number) && handed.includes('********'), 'the receiver\'s number is shown masked: ' + handed);
  check(await page.inputValue('#handover-id-number') === '', 'the typed number leaves the screen');
  await shot(page, '06-hand-over-signed');

  // Activation through the person's bank, face to face: refused without the checks (RULE 3);
  // with them the counter's camera takes the photo as the request goes to the bank, which
  // first refuses with its reason (set at the simulated bank), then, that put right, confirms.
  const bankSim = (method, body) => fetch(process.env.STATION_BANK + '/v1/sim/refusals', {
    method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  }).then((r) => check(r.ok, 'the simulated bank took ' + method));
  await page.click('[data-nav=activate]');
  await page.fill('#activate-card', result.card);
  await page.click('#activate-submit');
  await page.waitForSelector('#activate-result.error');
  result.activationRefused = await page.textContent('#activate-result');
  await page.check('#activate-present');
  await page.check('#activate-idchecked');
  await bankSim('POST', { card_number: result.card, code: 'name-mismatch', reason: '户名与开户信息不符，请核对持卡人姓名（含生僻字）' });
  await page.click('#activate-submit');
  await page.waitForSelector('#activate-result[data-refused]');
  result.bankRefusal = await page.textContent('#activate-result');
  await shot(page, '06b-activation-refused-by-the-bank');
  await bankSim('DELETE', { card_number: result.card });
  await page.click('#activate-submit');
  await page.waitForSelector('#activate-result.ok-text');
  result.activated = await page.textContent('#activate-result');
  check(result.activated.includes(result.card) && result.activated.includes('ICBC'), 'activated by the bank: ' + result.activated);
  await shot(page, '06c-activated-face-to-face');

  // The same person again: warned while typing, refused by the archive check, re-issued.
  await page.click('[data-nav=apply]');
  await page.click('#apply-reset');
  await fillPerson(page, person);
  await page.waitForSelector('#live-card-warning:not([hidden])');
  check((await page.textContent('#live-card-warning')).includes(result.card), 'the live card is named while typing');
  await takePhoto(page);
  await shot(page, '07-duplicate-warned-in-form');
  await page.click('#issue-submit');
  const refused = await jobEnd(page);
  check(refused.status === 'refused', 'a second card for a live holder is refused: ' + refused.text);
  check(await page.isVisible('#result-way-out'), 'the way out is shown');
  check((await page.textContent('#result-way-out')).includes(result.card), 'the way out names the live card');
  check(await page.isVisible('#reissue-button'), 'the re-issue button is offered');
  await shot(page, '08-duplicate-person-refused-way-out');
  await reissueWithConsent(page, result.card);
  const reissued = await jobEnd(page);
  check(reissued.status === 'awaiting-handover', 'the re-issue makes a card: ' + reissued.text);
  result.reissued = (await page.textContent('#job-result')).match(/[A-Z][0-9A-Z]{8}/)[0];
  check(result.reissued !== result.card, 'a new card number');
  const reissueForm = await printedForm(page, '09b-reissue-application-form');
  check(reissueForm.text.includes('卡号为 ' + result.card) && reissueForm.text.includes('☑ 本人现同意停用该社保卡'), 'the re-issue\'s form carries the signed consent to stop ' + result.card);
  await shot(page, '09-reissued');
  // The holder cannot wait for it after all: the card goes to stock with the reason.
  await page.click('#to-stock');
  await page.locator('#screen-handover').waitFor();
  check(await page.evaluate(() => document.activeElement.id) === 'handover-stock-reason', 'the reason is asked');
  await page.fill('#handover-stock-reason', '持卡人有事先离开');
  await page.click('#handover-stock-submit');
  await page.waitForFunction(() => document.querySelector('#handover-result').dataset.stocked);
  check((await page.textContent('#handover-result')).includes(result.reissued), 'in stock: ' + await page.textContent('#handover-result'));
  await shot(page, '09a-reissued-card-to-stock');

  // English, and a tablet.
  await page.click('#lang-toggle');
  await page.click('[data-nav=apply]');
  check((await page.textContent('#issue-submit')) === 'Submit and make the card', 'English labels');
  await shot(page, '10-form-english');
  await page.setViewportSize({ width: 800, height: 1280 });
  await shot(page, '11-form-tablet-portrait');
  await page.click('#lang-toggle');
});

// The supervisor: stock, dormant cards and recall, ledger with its verification.
await session('supervisor', async (s) => {
  await login(s.page, 'supervisor');
  await s.page.click('[data-nav=cards]');
  await s.page.waitForSelector('#cards-table tbody tr');
  const cards = await s.page.$$eval('#cards-table tbody tr td:first-child', (td) => td.map((x) => x.textContent));
  check(cards.includes(result.card) && cards.includes(result.reissued), 'both cards listed: ' + cards);
  const shown = await s.page.textContent('#cards-table');
  check(!shown.includes(person.id_number), 'ID numbers are masked on screen');
  await shot(s.page, '12-supervisor-cards');
  await s.page.click('[data-nav=dormant]');
  await s.page.fill('#dormant-days', '0');
  await s.page.click('#dormant-load');
  await s.page.waitForTimeout(500);
  await shot(s.page, '13-supervisor-dormant-recall');
  // The re-issued card's holder refuses it (RULE 8): recorded as theirs, off the dormant list.
  await s.page.waitForSelector(`[data-refusal="${result.reissued}"]`);
  s.page.once('dialog', (d) => d.accept('不换卡，继续用旧卡'));
  await s.page.click(`[data-refusal="${result.reissued}"]`);
  await s.page.waitForFunction((card) => document.querySelector('#dormant-result').textContent.includes(card), result.reissued);
  await s.page.waitForTimeout(300);
  const still = await s.page.$$eval('#dormant-table tbody tr td:first-child', (td) => td.map((x) => x.textContent));
  check(!still.includes(result.reissued), 'a refused card is no longer chased: ' + still);
  result.refusedCard = result.reissued;
  await shot(s.page, '13a-supervisor-dormant-refused-by-holder');
  await s.page.click('[data-nav=ledger]');
  await s.page.waitForSelector('#ledger-table tbody tr');
  await s.page.click('#ledger-verify');
  await s.page.waitForFunction(() => document.querySelector('#ledger-status').textContent.includes('✓'));
  await shot(s.page, '14-supervisor-ledger');
});
result.changedPasswords = station.changedPasswords || [];
console.log(JSON.stringify(result));
