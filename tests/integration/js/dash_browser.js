// Browser check of the dashboard for t_dashboard.sh: Debian's chromium
// driven by playwright-core (no browser download). Loads the page while
// records flow, then checks that
//   - the page loads nothing but itself and /api/status (no CDN, offline),
//     and raises no script error;
//   - every chart of the flowing stream has data points;
//   - the injected delivery failure (stream --bad) is in the error list,
//     with stage "delivery";
//   - after the load generator (--load-pid) is stopped and the counters are
//     still, the numbers shown equal GET /api/status, fetched separately;
// saves a full-page screenshot (--out) and prints one JSON line with the
// load time and size.
//
// usage: node dash_browser.js --url http://127.0.0.1:PORT --good S --bad S
//                             --load-pid PID --out FILE.png --profile DIR
'use strict';
const http = require('http');
const { chromium } = require('playwright-core');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['url', 'good', 'bad', 'load-pid', 'out', 'profile']) {
  if (!args[k]) { console.error(`missing --${k}`); process.exit(2); }
}
const base = args.url.replace(/\/$/, '');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function fail(msg) { throw new Error(msg); }

function getJSON(path) {
  return new Promise((resolve, reject) => {
    const req = http.get(base + path, { timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => { try { resolve(JSON.parse(body)); } catch (e) { reject(e); } });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// Poll fn() every 250 ms until it returns a truthy value or 'ms' pass.
async function until(what, ms, fn) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    last = await fn();
    if (last) return last;
    await sleep(250);
  }
  fail(`timed out after ${ms} ms waiting for ${what}`);
}

async function main() {
  const ctx = await chromium.launchPersistentContext(args.profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1366, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  const summary = {};
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    const foreign = [], problems = [];
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(base + '/') && !u.startsWith('data:')) foreign.push(u);
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });

    const t0 = Date.now();
    const resp = await page.goto(base + '/', { waitUntil: 'load', timeout: 20000 });
    if (resp.status() !== 200) fail(`GET / answered ${resp.status()}`);
    await page.waitForFunction(() => document.body.dataset.updated, null, { timeout: 10000 });
    summary.first_data_ms = Date.now() - t0;
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, ttfb: n.responseStart,
        bytes: n.encodedBodySize || n.transferSize };
    });
    summary.ttfb_ms = Math.round(nav.ttfb);
    summary.dom_content_loaded_ms = Math.round(nav.dcl);
    summary.load_ms = Math.round(nav.load);
    summary.page_bytes = nav.bytes;

    // Charts fill as the sampler adds a point every 5 s.
    const good = `.stream[data-stream="${args.good}"]`;
    const pts = await until('two data points in every chart of ' + args.good, 40000, async () => {
      const p = await page.$$eval(good + ' svg[data-points]', (els) => els.map((e) => +e.dataset.points));
      return p.length === 6 && p.every((n) => n >= 2) ? p : null;
    });
    summary.chart_points = pts;
    const incomingMax = await page.$eval(good + ' svg[data-points]', (s) => s.querySelector('polyline') !== null);
    if (!incomingMax) fail('the incoming records chart has no line');

    // The injected failure.
    const err = await until('a delivery error of ' + args.bad + ' in the error list', 30000, () =>
      page.$eval('#errors', (el, bad) => {
        const row = el.querySelector(`tr[data-stream="${bad}"][data-stage="delivery"]`);
        return row ? row.innerText : null;
      }, args.bad));
    if (!/failed/.test(err)) fail('error row does not say what failed: ' + err);
    summary.error_row = err.replace(/\s+/g, ' ').slice(0, 160);
    const state = await page.$eval(`.stream[data-stream="${args.bad}"]`, (el) => el.dataset.state);
    if (state !== 'failing') fail(`stream ${args.bad} shows state '${state}', expected failing`);

    // Stop the producer, let delivery finish, then compare the numbers.
    process.kill(Number(args['load-pid']), 'SIGTERM');
    let prev = null;
    const st = await until('the counters to settle', 30000, async () => {
      const s = await getJSON('/api/status');
      // Only what no longer moves: the bad stream keeps retrying.
      const key = JSON.stringify(s.DeliveryStreams.map((x) => [x.Counters.IncomingRecords,
        x.Counters.DeliveredRecords, x.Counters.ThrottledRecords, x.Counters.ErrorOutputRecords]));
      const g = s.DeliveryStreams.find((x) => x.DeliveryStreamName === args.good);
      const done = g && g.Counters.DeliveredRecords === g.Counters.IncomingRecords;
      const ok = done && key === prev;
      prev = key;
      return ok ? s : null;
    });
    const after = st.Service.Now;
    await page.waitForFunction((t) => Number(document.body.dataset.updated) > t, after, { timeout: 10000 });
    const keys = ['Counters.IncomingRecords', 'Counters.DeliveredRecords', 'Counters.ThrottledRecords',
      'Counters.DeliveryFailures', 'Counters.ErrorOutputRecords'];
    const checked = [];
    for (const s of st.DeliveryStreams) {
      const shown = await page.$$eval(`.stream[data-stream="${s.DeliveryStreamName}"] [data-k]`, (els) =>
        Object.fromEntries(els.map((e) => [e.dataset.k, e.textContent])));
      for (const k of keys) {
        const want = k.split('.').reduce((o, p) => o[p], s);
        const got = Number((shown[k] || '').replace(/,/g, ''));
        if (k === 'Counters.DeliveryFailures' && s.DeliveryStreamName === args.bad) {
          // Still failing: the page may be one refresh behind.
          if (!(got > 0 && got <= want + 5)) fail(`${s.DeliveryStreamName} ${k}: page ${shown[k]}, status ${want}`);
          continue;
        }
        if (got !== want) fail(`${s.DeliveryStreamName} ${k}: page shows '${shown[k]}', /api/status has ${want}`);
        checked.push(`${s.DeliveryStreamName}.${k.split('.')[1]}=${want}`);
      }
    }
    summary.matched = checked.length;
    const g = st.DeliveryStreams.find((x) => x.DeliveryStreamName === args.good);
    if (g.Counters.IncomingRecords < 100) fail('too few records flowed: ' + g.Counters.IncomingRecords);
    summary.records = g.Counters.IncomingRecords;

    await page.screenshot({ path: args.out, fullPage: true });
    if (foreign.length) fail('the page requested other origins: ' + foreign.join(' '));
    if (problems.length) fail(problems.join('; '));
    console.log(JSON.stringify(summary));
  } finally {
    await ctx.close();
  }
}

main().catch((e) => { console.error('dash_browser: ' + e.message); process.exit(1); });
