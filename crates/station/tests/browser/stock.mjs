// Agent sites and cards made elsewhere on the page. The operator takes two applications for an
// agent site (the form offers the configured sites; their cards go to stock). The supervisor
// takes in the card centre's delivery list (one card, one for another station, one broken
// number: each row's outcome on screen), then an XLSX list (a new card, the first again), moves the received card to another storage place
// (first with a giver who is not its keeper: the station's refusal in its own words) and on to
// the site; sees the two site applications overdue on a day past their deadline, and the
// statistics of that day; moves the two site cards to the site, the first while the SMS gateway
// refuses the number, the second while it refuses the station's account (sending stops until
// the next flush), and sees the SMS notices: the refused message, the stop with what to fix,
// the cards whose holder has no phone, one sent; and nothing overdue any more. The supervisor
// also approves custody of the received card by a relative (refused first for approving their
// own hand-over). Prints one JSON line for the Rust test.
import fs from 'node:fs';
import path from 'node:path';
import { station, session, shot, check, login, devicesReady, fillPerson, takePhoto, jobEnd } from './lib.mjs';

// What the Rust side prepared: the delivery list, its cards, the days to judge on.
const scenario = JSON.parse(fs.readFileSync(path.join(process.env.STATION_DIR, 'scenario.json'), 'utf8'));
const result = { siteCards: [] };
const ids = station.people.map((p) => p.id_number).concat(scenario.idNumbers);

/** No full ID number of anyone in the scenario on the screen. */
async function noFullIdNumber(page, where) {
  const text = await page.evaluate(() => document.querySelector('main').innerText);
  const shown = ids.filter((id) => text.includes(id));
  check(shown.length === 0, where + ': no full ID number on screen: ' + shown.join(' '));
}

const rowsOf = (page, table) => page.$$eval(table + ' tbody tr', (trs) => trs.map((tr) => ({
  received: tr.dataset.received, moved: tr.dataset.moved, refused: tr.dataset.refused,
  cells: Array.from(tr.cells).map((c) => c.textContent),
})));

await session('site-applications', async ({ page }) => {
  await login(page, 'operator');
  await devicesReady(page);
  check(await page.isHidden('#nav [data-nav=stock]'), 'an operator takes in and moves no cards');
  check(await page.isVisible('#site-field'), 'the form offers where the holder collects');
  const offered = await page.$$eval('#f-site option', (o) => o.map((x) => [x.value, x.textContent]));
  check(offered.length === 2 && offered[0][0] === '' && offered[1][0] === 'T03' && offered[1][1].includes('龙街镇便民服务中心'),
    'this counter or the configured site: ' + JSON.stringify(offered));
  for (const person of station.people) {
    await page.click('[data-nav=apply]');
    await page.click('#apply-reset');
    check(!(await page.isDisabled('#f-collection')), 'without a site the collection is the operator\'s choice');
    await fillPerson(page, person);
    await page.selectOption('#f-site', 'T03');
    check(await page.isDisabled('#f-collection') && (await page.inputValue('#f-collection')) === 'later',
      'an application for a site is collected there later');
    await takePhoto(page);
    if (!result.siteCards.length) await shot(page, '30-application-for-an-agent-site');
    await page.click('#issue-submit');
    // The form is checked once more before the job starts; then the progress names the site.
    await page.waitForFunction(() => document.querySelector('#progress-who').textContent.includes('龙街镇便民服务中心'));
    const end = await jobEnd(page);
    check(end.status === 'stocked', 'the card goes to stock for the site: ' + end.text);
    result.siteCards.push((await page.textContent('#job-result')).match(/[A-Z][0-9A-Z]{8}/)[0]);
  }
  await shot(page, '31-site-card-made-to-stock');
});

const [first, second] = result.siteCards;
const sms = (body) => fetch(process.env.STATION_SMS + '/v1/faults', {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
}).then((r) => check(r.ok, 'the simulated SMS gateway took the fault'));

/** Fills the move form and sends it; the rows of its answer. */
async function move(page, cards, { site = '', place = '', giver, receiver }) {
  await page.fill('#move-cards', cards.join(' '));
  await page.selectOption('#move-site', site);
  await page.fill('#move-place', place);
  await page.fill('#move-giver', giver);
  await page.fill('#move-receiver', receiver);
  await page.click('#move-submit');
  await page.waitForSelector('#move-result[data-done]');
  return rowsOf(page, '#move-table');
}

/** The supervisor's sections, each loaded once as the screen opens. */
async function sections(page) {
  await page.click('[data-nav=dormant]');
  // Each clears its table and its line as it starts, and fills one or the other.
  await page.waitForFunction(() => (document.querySelector('#sites-result').textContent !== ''
      || document.querySelectorAll('#sites-table tbody tr').length > 0)
    && document.querySelector('#sms-result').textContent !== ''
    && document.querySelectorAll('#stats-sites tbody tr').length > 0);
}

/** Reloads the SMS notices until `done(rows, summary)`. */
async function smsUntil(page, done, what) {
  for (let i = 0; i < 100; i++) {
    await page.click('#sms-load');
    await page.waitForFunction(() => document.querySelector('#sms-result').textContent !== '');
    const rows = await rowsOf(page, '#sms-table');
    const summary = await page.textContent('#sms-result');
    if (done(rows, summary)) return { rows, summary };
    await page.waitForTimeout(200);
  }
  throw new Error('the SMS notices never showed ' + what + ': ' + JSON.stringify(await rowsOf(page, '#sms-table')));
}

await session('supervisor-stock', async ({ page, urls }) => {
  await login(page, 'supervisor');
  await page.click('[data-nav=stock]');

  // The delivery list: nothing chosen is said; the list as chosen, row by row.
  await page.click('#receive-submit');
  check((await page.textContent('#receive-result')).includes('请先选择交接清单'), 'no list chosen yet');
  await page.setInputFiles('#receive-file', scenario.list);
  await page.click('#receive-submit');
  await page.waitForSelector('#receive-result[data-done]');
  const rows = await rowsOf(page, '#receive-table');
  result.received = rows;
  const taken = rows.filter((r) => r.received);
  check(taken.length === 1 && taken[0].received === scenario.card && taken[0].cells[0] === '2',
    'row 2, the card for this station, is taken in: ' + JSON.stringify(rows));
  check(taken[0].cells[2].includes('中心0') && taken[0].cells[2].includes('*'), 'its holder, masked: ' + taken[0].cells[2]);
  check(taken[0].cells[4].includes('supervisor'), 'kept by the supervisor who took it in: ' + taken[0].cells[4]);
  const refused = Object.fromEntries(rows.filter((r) => r.refused).map((r) => [r.refused, r.cells]));
  check(refused['3'] && refused['3'][1] === scenario.elsewhere && refused['3'][4].includes('S-OTHER') && refused['3'][4].includes(' → '),
    'row 3, delivered to another station, with what to do: ' + JSON.stringify(refused));
  check(refused['4'] && refused['4'][4].includes('check character'), 'row 4, a broken card number: ' + JSON.stringify(refused));
  check((await page.textContent('#receive-result')).startsWith('1张接收入库，未接收行数：2'), await page.textContent('#receive-result'));
  await noFullIdNumber(page, 'the delivery list');
  await shot(page, '32-delivery-list-taken-in');
  // The next list, as XLSX: a new card, and the first one again (harmless: already here).
  await page.setInputFiles('#receive-file', scenario.xlsx);
  await page.click('#receive-submit');
  await page.waitForSelector('#receive-result[data-done]');
  const again = await rowsOf(page, '#receive-table');
  result.receivedXlsx = again;
  check(again.length === 2 && again[0].received === scenario.xlsxCard && again[0].cells[0] === '2',
    'the XLSX list\'s new card is taken in: ' + JSON.stringify(again));
  check(again[1].refused === '3' && again[1].cells[1] === scenario.card && again[1].cells[4].includes('already'),
    'the card taken in before is said to be here already: ' + JSON.stringify(again));
  await shot(page, '32a-xlsx-list-taken-in');
  // A file that is no list: the station's words.
  await page.setInputFiles('#receive-file', { name: '空.csv', mimeType: 'text/csv', buffer: Buffer.from('') });
  await page.click('#receive-submit');
  await page.waitForSelector('#receive-result[data-done]');
  result.emptyList = await page.textContent('#receive-result');
  check(result.emptyList.startsWith('失败：') && result.emptyList.includes('0 bytes'), 'an empty file: ' + result.emptyList);

  // To another storage place: only the keeper the ledger names gives the card.
  let moved = await move(page, [scenario.card], { place: '二号保管柜', giver: 'operator', receiver: '李保管' });
  check(moved.length === 1 && moved[0].refused === scenario.card, 'a giver who is not the keeper: ' + JSON.stringify(moved));
  result.notTheKeeper = moved[0].cells[3];
  await shot(page, '33-move-refused-not-the-keeper');
  moved = await move(page, [scenario.card], { place: '二号保管柜', giver: 'supervisor', receiver: '李保管' });
  check(moved[0].moved === scenario.card && moved[0].cells[2] === '二号保管柜（李保管）', 'moved: ' + JSON.stringify(moved));
  // On to the agent site: its holder (made elsewhere) has no phone to tell.
  moved = await move(page, [scenario.card], { site: 'T03', giver: '李保管', receiver: '王站长' });
  check(moved[0].moved === scenario.card && moved[0].cells[2].includes('龙街镇便民服务中心 (T03)') && moved[0].cells[2].includes('王站长'),
    'at the site: ' + JSON.stringify(moved));
  result.receivedSms = moved[0].cells[3];
  // A site that is not configured: the station's words.
  await page.fill('#move-cards', scenario.card);
  await page.selectOption('#move-site', '');
  await page.fill('#move-place', '');
  await page.click('#move-submit');
  await page.waitForSelector('#move-result[data-done]');
  result.noPlace = await page.textContent('#move-result');
  await shot(page, '34-received-card-at-the-site');

  // Custody of the received card by a relative (RULE 4): the approver may not be the one who
  // hands the card over; then recorded, at the province too, the custodian's number masked.
  const custody = async (by) => {
    await page.fill('#custody-card', scenario.card);
    await page.selectOption('#custody-group', 'disabled');
    await page.fill('#custody-name', '李秀英');
    await page.fill('#custody-id', scenario.custodianId);
    await page.fill('#custody-reason', '重度残疾, 由女儿代领');
    await page.fill('#custody-until', '2099-12-31');
    await page.fill('#custody-by', by);
    await page.click('#custody-submit');
    await page.waitForSelector('#custody-result[data-done]');
    return page.textContent('#custody-result');
  };
  result.custodyRefused = await custody('supervisor');
  result.custody = await custody('operator');
  check(result.custody.startsWith('已记录代管审批'), 'custody recorded: ' + result.custody);
  check((await page.inputValue('#custody-id')) === '', 'the custodian\'s number leaves the form');
  await noFullIdNumber(page, 'the custody approval');
  await shot(page, '35-custody-approved');

  // The supervisor's sections, judged on a day past the site applications' deadline.
  await sections(page);
  await page.fill('#sites-on', scenario.judgedOn);
  await page.click('#sites-load');
  await page.waitForFunction(() => document.querySelectorAll('#sites-table tbody tr').length > 0);
  check((await page.textContent('#sites-result')) === '', 'overdue, not nothing: ' + await page.textContent('#sites-result'));
  const overdue = await rowsOf(page, '#sites-table');
  result.overdue = overdue.map((r) => r.cells);
  for (const card of [first, second]) {
    const line = overdue.find((r) => r.cells[2] === card);
    check(line && line.cells[0] === '龙街镇便民服务中心 (T03)' && line.cells[4] === scenario.deadline && line.cells[5] === '2',
      card + ' is two working days overdue at the site: ' + JSON.stringify(overdue));
    check(line.cells[1].includes('*'), 'the holder masked: ' + line.cells[1]);
  }
  check(overdue.length === 2, 'the received card is at its site, not overdue: ' + JSON.stringify(overdue));
  await page.fill('#stats-to', scenario.judgedOn);
  await page.click('#stats-load');
  await page.waitForFunction((on) => {
    const rows = Array.from(document.querySelectorAll('#stats-sites tbody tr'));
    return rows.some((r) => r.cells[0].textContent.includes('T03') && r.cells[3].textContent !== '0');
  }, scenario.judgedOn);
  const perSite = Object.fromEntries((await rowsOf(page, '#stats-sites')).map((r) => [r.cells[0], r.cells.slice(1)]));
  result.statsSites = perSite;
  // Per site of the cards' applications: the received card is the station's own.
  check(JSON.stringify(perSite['本站']) === '["2","0","0"]', 'the two received cards in stock: ' + JSON.stringify(perSite));
  check(JSON.stringify(perSite['龙街镇便民服务中心 (T03)']) === '["2","0","2"]', 'the site\'s two cards in stock, both overdue: ' + JSON.stringify(perSite));
  check(JSON.stringify(perSite['合计']) === '["4","0","2"]', 'the totals: ' + JSON.stringify(perSite));
  const days = await rowsOf(page, '#stats-table');
  const total = days[days.length - 1].cells;
  result.statsTotal = total;
  check(total[0] === '合计' && total[3] === '2' && total[4] === '2' && total[5] === '0', 'made 2, received 2, issued 0: ' + JSON.stringify(total));
  check(days.some((r) => r.cells[1] === 'operator' && r.cells[3] === '2'), 'the operator made two: ' + JSON.stringify(days));
  check(days.some((r) => r.cells[1] === 'supervisor' && r.cells[4] === '2'), 'the supervisor took two in: ' + JSON.stringify(days));
  let notices = await smsUntil(page, (r) => r.length === 1, 'the card without a phone');
  check(notices.rows[0].cells[0] === scenario.card + ' · T03' && notices.rows[0].cells[3].includes('no phone'),
    'the received card\'s holder has no phone: ' + JSON.stringify(notices.rows));
  await noFullIdNumber(page, 'the supervisor\'s sections');
  await shot(page, '35-overdue-stats-and-no-phone');

  // The site cards to the site: the gateway refuses the first one's number.
  await page.click('[data-nav=stock]');
  await sms({ reject: 1 });
  moved = await move(page, [first], { site: 'T03', giver: 'operator', receiver: '王站长' });
  check(moved[0].moved === first && moved[0].cells[3] === 'SMS queued', 'the pickup SMS is queued: ' + JSON.stringify(moved));
  await sections(page);
  notices = await smsUntil(page, (r) => r.some((x) => x.cells[0] === `pickup:${first}:T03`), 'the refused message');
  const failed = notices.rows.find((x) => x.cells[0] === `pickup:${first}:T03`).cells;
  result.smsFailed = failed;
  check(failed[1] !== '13800138000' && failed[1].includes('*'), 'the number masked: ' + failed[1]);
  check(failed[2] === '发送失败' && failed[3].includes('the number does not exist'), 'failed, with the gateway\'s reason: ' + JSON.stringify(failed));
  // The gateway refuses the station's account once (its secret was changed): sending stops,
  // the supervisor is told what to fix, the message waits.
  await page.click('[data-nav=stock]');
  await sms({ refuse_credentials: 1 });
  moved = await move(page, [second], { site: 'T03', giver: 'operator', receiver: '王站长' });
  check(moved[0].moved === second && moved[0].cells[3] === 'SMS queued', 'queued: ' + JSON.stringify(moved));
  await sections(page);
  notices = await smsUntil(page, (r) => r.some((x) => x.cells[0] === `pickup:${second}:T03` && x.cells[2] === '重试中'), 'the stopped sending');
  result.smsStopped = await page.textContent('#sms-stopped');
  check(result.smsStopped.includes('fix [sms]'), 'the stop says what to fix: ' + result.smsStopped);
  const waiting = notices.rows.find((x) => x.cells[0] === `pickup:${second}:T03`).cells;
  check(waiting[3].includes('401'), 'waiting, with the gateway\'s answer: ' + JSON.stringify(waiting));
  await shot(page, '36-sms-sending-stopped');
  // The next sending goes through: the card of the XLSX list to the site wakes it.
  await page.click('[data-nav=stock]');
  moved = await move(page, [scenario.xlsxCard], { site: 'T03', giver: 'supervisor', receiver: '王站长' });
  check(moved[0].moved === scenario.xlsxCard && moved[0].cells[3].startsWith('no phone'), 'no phone: ' + JSON.stringify(moved));
  await sections(page);
  notices = await smsUntil(page, (r, s) => s.includes('已发送：1'), 'one message sent');
  result.smsRows = notices.rows.map((r) => r.cells);
  result.smsSummary = notices.summary;
  check(notices.rows.length === 3 && notices.rows.filter((r) => r.cells[2] === '无手机号').length === 2,
    'the refused message and the two cards without a phone need a person: ' + JSON.stringify(result.smsRows));
  check((await page.textContent('#sms-stopped')) === '', 'sending goes on');
  // Delivered: nothing overdue on that day any more.
  await page.fill('#sites-on', scenario.judgedOn);
  await page.click('#sites-load');
  await page.waitForFunction(() => document.querySelector('#sites-result').textContent !== '');
  result.overdueAfter = await page.textContent('#sites-result');
  check(result.overdueAfter === '没有超期的申请。', 'nothing overdue once delivered: ' + result.overdueAfter);
  await noFullIdNumber(page, 'the supervisor\'s sections');
  await shot(page, '37-sms-sent-and-nothing-overdue');
  const leaked = urls.filter((u) => ids.some((id) => u.includes(id) || u.includes(id.slice(0, 14))));
  check(leaked.length === 0, 'no ID number in a URL the page asked for: ' + leaked.join(' '));
});
console.log(JSON.stringify(result));
