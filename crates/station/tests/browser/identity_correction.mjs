// Identity verification as the seed's flow, in the browser: a mistyped name is not confirmed by
// the police register; the job view shows the field with the register's hint and the
// corrections left; a wrong correction is answered the same, one correction fewer; the right
// name is verified and the card made. Prints one JSON line for the Rust test.
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
});
console.log(JSON.stringify(result));
