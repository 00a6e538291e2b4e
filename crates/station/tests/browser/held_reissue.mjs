// A re-issue whose new card cannot be made after the old card was stopped (the feeder runs
// empty), in the browser: the job view says where the holder stands (the old card stopped at the
// province for this re-issue, the new card not made, the claim this station's until when), and
// the supervisor leaves it, finds it again among the jobs waiting for a person and, once the
// feeder is refilled, resumes the new card. Prints one JSON line for the Rust test.
import { station, session, shot, check, login, devicesReady, fillPerson, takePhoto, jobEnd, atThePrinter, reissueWithConsent } from './lib.mjs';

const person = station.people[0];
const result = {};
await session('held-reissue', async ({ page }) => {
  // The operator's first password is changed (the printer's actions are taken with it).
  await login(page, 'operator');
  await page.click('#logout');
  await login(page, 'supervisor');
  await devicesReady(page);
  // The first card goes to stock: the holder collects it later.
  await fillPerson(page, person);
  await page.selectOption('#f-collection', 'later');
  await takePhoto(page);
  await page.click('#issue-submit');
  const first = await jobEnd(page);
  check(first.status === 'stocked', 'the first card is made: ' + first.text);
  result.card = first.text.match(/[A-Z][0-9A-Z]{8}/)[0];

  // The same person again, as a re-issue; the feeder runs empty after the old card is stopped.
  await page.click('[data-nav=apply]');
  await page.click('#apply-reset');
  await fillPerson(page, person);
  await page.selectOption('#f-collection', 'at-counter');
  await takePhoto(page);
  await page.click('#issue-submit');
  const refused = await jobEnd(page);
  check(refused.status === 'refused', 'a second card only as a re-issue: ' + refused.text);
  await atThePrinter(page, 'feeder-empty');
  await reissueWithConsent(page, result.card);
  await page.waitForSelector('#job-result[data-status=held]', { timeout: 120000 });
  await page.waitForSelector('#held-facts');
  result.facts = await page.textContent('#held-facts');
  check(result.facts.includes(result.card), 'the old card is named: ' + result.facts);
  check(!result.facts.includes(person.id_number), 'no ID number on the screen');
  check(await page.isVisible('#held-restore') && await page.isVisible('#held-resume'), 'both ways are offered');
  await shot(page, '30-reissue-held');

  // Left for another screen, the held re-issue is found again in the list of waiting jobs.
  await page.click('[data-nav=apply]');
  await page.click('[data-nav=progress]');
  await page.waitForSelector('#waiting-table tbody[data-loaded] tr[data-job]');
  const waiting = await page.$$eval('#waiting-table tbody tr[data-job]', (trs) => trs.map((tr) => Array.from(tr.cells).map((c) => c.textContent)));
  check(waiting.length === 1 && waiting[0][3] === '补换卡暂停' && !waiting[0].join(' ').includes(person.id_number),
    'the held job waits, masked: ' + JSON.stringify(waiting));
  result.waiting = waiting[0];
  await page.click('#waiting-table tbody tr[data-job] button');
  await page.waitForSelector('#held-facts');
  check((await page.textContent('#held-facts')).includes(result.card), 'the held view again');
  await shot(page, '30b-held-reissue-found-again');

  await atThePrinter(page, 'refill');
  await devicesReady(page);
  await page.click('#held-resume');
  await page.waitForSelector('#job-result[data-status=awaiting-handover]', { timeout: 120000 });
  result.reissued = (await page.textContent('#job-result')).match(/[A-Z][0-9A-Z]{8}/)[0];
  check(result.reissued !== result.card, 'a new card: ' + result.reissued);
  await shot(page, '31-held-reissue-resumed');
});
console.log(JSON.stringify(result));
