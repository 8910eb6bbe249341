// The dashboard's leases line of a Kinesis-sourced stream, in Debian's
// chromium (playwright-core): it renders with the worker, the lease count
// and every shard held, and the page raises no script error.
// usage: node dash_leases.js URL STREAM WORKER NSHARDS PROFILE_DIR
'use strict';
const { chromium } = require('playwright-core');
const [url, stream, worker, nshards, profile] = process.argv.slice(2);

(async () => {
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const problems = [];
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    await page.goto(url + '/', { waitUntil: 'load', timeout: 20000 });
    const sel = `.stream[data-stream="${stream}"] .extra`;
    await page.waitForSelector(sel, { timeout: 10000 });
    const text = await page.textContent(sel);
    if (!text.includes(`${nshards} held by ${worker}`)) problems.push('no "' + nshards + ' held by ' + worker + '" in: ' + text);
    const shards = (text.match(/shardId-\d{12} checkpoint \d+/g) || []).length;
    if (shards !== Number(nshards)) problems.push(`${shards} shards with a numeric checkpoint in: ${text}`);
  } finally {
    await ctx.close();
  }
  if (problems.length) { console.error(problems.join('\n')); process.exit(1); }
  console.log('dashboard leases ok');
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
