// A printer fault during issuance: the job stops and rolls back, the page says what happened
// and what to do (the status bar names the device and the action), the operator fixes the
// printer and retries, and the card is made. Two faults in turn: the feeder runs empty, then
// the cover is open. Prints one JSON line for the Rust test.
import { station, session, shot, check, login, devicesReady, fillPerson, takePhoto, jobEnd, atThePrinter } from './lib.mjs';

const person = station.people[0];
const result = { faults: [] };
await session('printer-fault', async ({ page }) => {
  await login(page, 'operator');
  await devicesReady(page);
  await fillPerson(page, person);
  await takePhoto(page);

  for (const [fault, device, fix, shotName] of [
    ['feeder-empty', 'feeder', 'refill', '20-printer-fault-feeder-empty'],
    ['cover-open', 'cover', 'close-cover', '21-printer-fault-cover-open'],
  ]) {
    await atThePrinter(page, fault);
    if (await page.isVisible('#screen-progress')) await page.click('#retry-button');
    else await page.click('#issue-submit');
    const end = await jobEnd(page);
    check(end.status === 'rolled-back', fault + ': the job is rolled back: ' + end.text);
    await page.waitForSelector(`#device-list [data-device=${device}][data-ok=false]`);
    const bar = await page.textContent(`#device-list [data-device=${device}]`);
    check(await page.isVisible('#retry-button'), fault + ': retry offered');
    // The way out names the device and what to do with it.
    const name = { feeder: '进卡器', cover: '打印机上盖' }[device];
    await page.waitForFunction((n) => document.querySelector('#result-way-out').textContent.includes(n), name);
    result.faults.push({ fault, bar, way: await page.textContent('#result-way-out') });
    await shot(page, shotName);
    await atThePrinter(page, fix);
    await page.waitForSelector(`#device-list [data-device=${device}][data-ok=true]`);
  }
  await devicesReady(page);
  await page.click('#retry-button');
  const end = await jobEnd(page);
  check(end.status === 'awaiting-handover', 'after the fixes the card is made: ' + end.text);
  result.card = (await page.textContent('#job-result')).match(/[A-Z][0-9A-Z]{8}/)[0];
  await page.waitForFunction(() => document.querySelector('#face-preview').naturalWidth > 0);
  await shot(page, '22-printer-fixed-card-made');
});
console.log(JSON.stringify(result));
