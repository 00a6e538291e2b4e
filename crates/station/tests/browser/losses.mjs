// Losses and the replacement fee on the page (#24 item 4). The operator makes a card that waits
// in stock, then on the 挂失与补卡 screen: a temporary loss by phone (the holder's number as the
// caller says it), the same loss again (refused: it is in force), a lift without the ID checked
// (refused) and with it, a loss reported with another person's number (refused: not the
// holder), a formal loss with the holder at the counter, and the replacement's fee (the first:
// free, with its receipt). No full ID number stays on the screen or goes into a URL. Prints
// one JSON line for the Rust test.
import { station, session, shot, check, login, devicesReady, fillPerson, takePhoto, jobEnd } from './lib.mjs';

const [holder, other] = station.people;
const result = {};
await session('losses', async ({ page, urls }) => {
  await login(page, 'operator');
  await devicesReady(page);
  await fillPerson(page, holder);
  await page.selectOption('#f-collection', 'later');
  await takePhoto(page);
  await page.click('#issue-submit');
  const made = await jobEnd(page);
  check(made.status === 'stocked', 'the card is made: ' + made.text);
  result.card = made.text.match(/[A-Z][0-9A-Z]{8}/)[0];

  await page.click('[data-nav=losses]');
  await page.waitForFunction(() => document.querySelector('#losses-schedule').textContent !== '');
  result.schedule = await page.textContent('#losses-schedule');
  /** Fills the form and presses `button`; the result line. */
  const act = async (button, { id = '', channel = 'phone', checked = false } = {}) => {
    await page.fill('#losses-card', result.card);
    await page.fill('#losses-id', id);
    await page.selectOption('#losses-channel', channel);
    await page.setChecked('#losses-idchecked', checked);
    await page.click(button);
    await page.waitForSelector('#losses-result[data-done]');
    const text = await page.textContent('#losses-result');
    check((await page.inputValue('#losses-id')) === '', 'the ID number leaves the form');
    const shown = await page.evaluate(() => document.querySelector('main').innerText);
    check(!shown.includes(holder.id_number) && !shown.includes(other.id_number), 'no full ID number on the screen');
    return text;
  };
  result.suspended = await act('#losses-temporary', { id: holder.id_number });
  check(result.suspended.startsWith('已口头挂失'), 'suspended: ' + result.suspended);
  await shot(page, '30-temporary-loss');
  result.again = await act('#losses-temporary', { id: holder.id_number });
  result.liftUnchecked = await act('#losses-lift', { id: holder.id_number });
  result.lifted = await act('#losses-lift', { id: holder.id_number, channel: 'counter', checked: true });
  check(result.lifted.startsWith('已解挂'), 'lifted: ' + result.lifted);
  result.notTheHolder = await act('#losses-temporary', { id: other.id_number });
  result.formal = await act('#losses-formal', { checked: true });
  check(result.formal.startsWith('已正式挂失'), 'stopped: ' + result.formal);
  result.fee = await act('#losses-fee');
  check(result.fee.includes('首次补卡免费') && result.fee.includes('收据号'), 'the first replacement is free: ' + result.fee);
  await shot(page, '31-formal-loss-and-fee');
  const leaked = urls.filter((u) => [holder, other].some((p) => u.includes(p.id_number)));
  check(leaked.length === 0, 'no ID number in a URL: ' + leaked.join(' '));
});
console.log(JSON.stringify(result));
