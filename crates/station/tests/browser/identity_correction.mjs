// Identity verification as the seed's flow, in the browser: a mistyped name is not confirmed by
// the police register; the job view shows the field with the register's hint and the
// corrections left; a wrong correction is answered the same, one correction fewer; the right
// name is verified and the card made. A second applicant's two wrong corrections use up the
// station's two: the page says the application ended and why. Prints one JSON line for the
// Rust test.
import { station, session, shot, check, login, devicesReady, fillPerson, takePhoto, jobEnd } from './lib.mjs';

const person = station.people[0];
const typo = (name) => '汪' + name.slice(1);
const result = {};
await session('identity-correction', async ({ page }) => {
  await login(page, 'operator');
  await devicesReady(page);
  await fillPerson(page, { ...person, name: typo(person.name) });
  await page.selectOption('#f-collection', 'at-counter');
  await takePhoto(page);
  await page.click('#issue-submit');
  const waiting = await jobEnd(page);
  check(waiting.status === 'correcting', 'the job waits for the correction: ' + waiting.text);
  await page.waitForSelector('#mismatch-fields li[data-field=name]');
  result.hint = await page.textContent('#mismatch-fields');
  check(result.hint.includes('姓名') && result.hint.includes('公安登记'), 'the field and its hint: ' + result.hint);
  result.count = await page.textContent('#mismatch-count');
  check(result.count.includes('还可更正 2 次'), 'two corrections left: ' + result.count);
  check(await page.inputValue('#correct-name') === typo(person.name), 'the form holds the name as typed');
  check(!(await page.textContent('body')).includes(person.id_number), 'no whole ID number on the screen');
  check(await page.getAttribute('#steps li[data-step=verify-identity]', 'data-state') === 'correcting', 'the verification waits');
  await shot(page, '40-identity-mismatch');

  // A wrong correction: the register says the same; one correction fewer.
  await page.fill('#correct-name', '王晓红');
  await page.click('#correct-submit');
  await page.waitForFunction(() => (document.querySelector('#mismatch-count') || {}).textContent?.includes('已更正 1 次'), null, { timeout: 60000 });
  result.after_one = await page.textContent('#mismatch-count');
  check(result.after_one.includes('还可更正 1 次'), 'one correction left: ' + result.after_one);

  // The right name, as on the document: verified, the card made, waiting at the hand-over.
  await page.fill('#correct-name', person.name);
  await shot(page, '41-identity-correction');
  await page.click('#correct-submit');
  await page.waitForSelector('#job-result[data-status=awaiting-handover]', { timeout: 120000 });
  result.card = (await page.textContent('#job-result')).match(/[A-Z][0-9A-Z]{8}/)[0];
  check(await page.isVisible('#to-handover'), 'the hand-over is offered');
  await shot(page, '42-identity-corrected-card-made');

  // The second person: two wrong corrections, then the application ends with the reason.
  const other = station.people[1];
  await page.click('[data-nav=apply]');
  await page.click('#apply-reset');
  await fillPerson(page, { ...other, name: typo(other.name) });
  await page.selectOption('#f-collection', 'later');
  await takePhoto(page);
  await page.click('#issue-submit');
  check((await jobEnd(page)).status === 'correcting', 'the second job waits');
  await page.waitForSelector('#correct-name');
  await page.fill('#correct-name', '汪' + other.name.slice(0, -1) + '甲');
  await page.click('#correct-submit');
  await page.waitForFunction(() => (document.querySelector('#mismatch-count') || {}).textContent?.includes('已更正 1 次'), null, { timeout: 60000 });
  await page.fill('#correct-name', typo(other.name) + '乙');
  await page.click('#correct-submit');
  await page.waitForSelector('#job-result[data-status=rolled-back]', { timeout: 60000 });
  result.ended = await page.textContent('#job-result');
  check(result.ended.includes('申请已结束') && result.ended.includes('2 correction') && result.ended.includes('姓名与公安登记不一致'), 'the end and its reason: ' + result.ended);
  check(!(await page.isVisible('#correct-submit')), 'no correction is offered any more');
  await shot(page, '43-identity-corrections-used-up');
});
console.log(JSON.stringify(result));
