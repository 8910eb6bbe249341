// Producer driver for the integration tests, built on @aws-sdk/client-firehose
// (maxAttempts 1: every failure is seen and counted here, never retried by
// the SDK).
//
// Every record is framed so that a verifier can parse concatenated output:
//   "{" <id> ":" <payload length> ":" <payload bytes> "}\n"
// with <id> = <tag>-<seq> and a random binary payload.
//
// usage:
//   node fh.js send  --endpoint URL --stream S --tag T --count N [--batch B]
//                    [--single] [--sent FILE] [--min 0] [--max 300]
//       sequential; writes the exact bytes sent, in order, to --sent;
//       exit 1 on any failed call or entry.
//   node fh.js load  --endpoint URL --stream S --tag T --acked FILE
//                    [--concurrency 4] [--batch 20] [--max-seconds 120]
//       continuous, C requests in flight, until SIGTERM/SIGINT; each record
//       id that got a RecordId is appended to --acked. Prints a JSON summary.
//   node fh.js fill  --endpoint URL --stream S --tag T --acked FILE
//                    [--batch 100] [--size 1024] [--max-seconds 60]
//       sends until PutRecordBatch entries come back
//       ServiceUnavailableException, then sends single PutRecords until one
//       gets HTTP 503.
//       Prints a JSON summary.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { FirehoseClient, PutRecordCommand, PutRecordBatchCommand } =
  require('@aws-sdk/client-firehose');
const { NodeHttpHandler } = require('@smithy/node-http-handler');
const http = require('http');

function parseArgs(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const k = a.slice(2);
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) { o[k] = true; } else { o[k] = v; i++; }
    } else o._.push(a);
  }
  return o;
}
const args = parseArgs(process.argv.slice(2));
const cmd = args._[0];
const need = (k) => { if (args[k] === undefined) { console.error(`missing --${k}`); process.exit(2); } return args[k]; };
const num = (k, d) => (args[k] === undefined ? d : Number(args[k]));

const endpoint = need('endpoint');
const stream = need('stream');
const tag = need('tag');

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const client = new FirehoseClient({
  endpoint,
  region: process.env.AWS_DEFAULT_REGION || 'us-east-1',
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'S3RVER',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'S3RVER',
  },
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpAgent: agent, connectionTimeout: 2000, requestTimeout: 15000 }),
});

function frame(id, payload) {
  return Buffer.concat([Buffer.from(`{${id}:${payload.length}:`), payload, Buffer.from('}\n')]);
}
let seq = 0;
function nextRecord(minLen, maxLen) {
  const id = `${tag}-${String(seq++).padStart(7, '0')}`;
  const len = minLen + Math.floor(Math.random() * (maxLen - minLen + 1));
  return { id, data: frame(id, crypto.randomBytes(len)) };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const errName = (e) => (e && (e.name || e.code)) || String(e);
const errStatus = (e) => (e && e.$metadata && e.$metadata.httpStatusCode) || 0;

async function cmdSend() {
  const count = num('count', 100), batch = num('batch', 50);
  const minLen = num('min', 0), maxLen = num('max', 300);
  const sentFd = args.sent ? fs.openSync(args.sent, 'w') : null;
  let failures = 0, sent = 0;
  while (sent < count) {
    const n = args.single ? 1 : Math.min(batch, count - sent);
    const recs = [];
    for (let i = 0; i < n; i++) recs.push(nextRecord(minLen, maxLen));
    try {
      if (args.single) {
        const r = await client.send(new PutRecordCommand({ DeliveryStreamName: stream, Record: { Data: recs[0].data } }));
        if (!r.RecordId) { failures++; console.error('PutRecord: no RecordId', JSON.stringify(r)); }
      } else {
        const r = await client.send(new PutRecordBatchCommand({ DeliveryStreamName: stream, Records: recs.map((x) => ({ Data: x.data })) }));
        const rr = r.RequestResponses || [];
        if (r.FailedPutCount !== 0 || rr.length !== n || rr.some((e) => !e.RecordId || e.ErrorCode)) {
          failures++;
          console.error('PutRecordBatch: failures', JSON.stringify(r).slice(0, 500));
        }
      }
    } catch (e) {
      failures++;
      console.error(`call failed: ${errName(e)} HTTP ${errStatus(e)} ${e.message}`);
    }
    if (sentFd !== null) for (const x of recs) fs.writeSync(sentFd, x.data);
    sent += n;
    if (failures > 0) break;
  }
  if (sentFd !== null) fs.closeSync(sentFd);
  console.log(JSON.stringify({ sent, failures }));
  process.exit(failures ? 1 : 0);
}

async function cmdLoad() {
  const conc = num('concurrency', 4), batch = num('batch', 20);
  const maxMs = num('max-seconds', 120) * 1000;
  const ackFd = fs.openSync(need('acked'), 'a');
  const st = { calls: 0, ok_calls: 0, failed_calls: 0, acked: 0, failed_entries: 0, errors: {} };
  let stop = false;
  process.on('SIGTERM', () => { stop = true; });
  process.on('SIGINT', () => { stop = true; });
  const t0 = Date.now();
  async function worker() {
    while (!stop && Date.now() - t0 < maxMs) {
      const recs = [];
      const single = Math.random() < 0.2;
      const n = single ? 1 : 1 + Math.floor(Math.random() * batch);
      for (let i = 0; i < n; i++) recs.push(nextRecord(0, 200));
      st.calls++;
      try {
        let acked = [];
        if (single) {
          const r = await client.send(new PutRecordCommand({ DeliveryStreamName: stream, Record: { Data: recs[0].data } }));
          if (r.RecordId) acked.push(recs[0].id);
        } else {
          const r = await client.send(new PutRecordBatchCommand({ DeliveryStreamName: stream, Records: recs.map((x) => ({ Data: x.data })) }));
          const rr = r.RequestResponses || [];
          rr.forEach((e, i) => {
            if (e.RecordId && i < recs.length) acked.push(recs[i].id);
            else { st.failed_entries++; st.errors[e.ErrorCode || 'entry'] = (st.errors[e.ErrorCode || 'entry'] || 0) + 1; }
          });
        }
        st.ok_calls++;
        if (acked.length) { fs.writeSync(ackFd, acked.join('\n') + '\n'); st.acked += acked.length; }
      } catch (e) {
        st.failed_calls++;
        const k = errName(e);
        st.errors[k] = (st.errors[k] || 0) + 1;
        await sleep(20 + Math.random() * 30);
      }
    }
  }
  await Promise.all(Array.from({ length: conc }, worker));
  fs.closeSync(ackFd);
  console.log(JSON.stringify(st));
  process.exit(0);
}

async function cmdFill() {
  const batch = num('batch', 100), size = num('size', 1024);
  const maxMs = num('max-seconds', 60) * 1000;
  const ackFd = fs.openSync(need('acked'), 'a');
  const st = { batch_calls: 0, acked: 0, throttled_entries: 0, other_failed_entries: 0,
    entry_codes: {}, entry_message: null, putrecord_status: null, putrecord_type: null,
    putrecord_message: null, call_errors: {}, bytes_acked: 0 };
  const t0 = Date.now();
  let throttledCalls = 0;
  while (Date.now() - t0 < maxMs && throttledCalls < 3) {
    const recs = [];
    for (let i = 0; i < batch; i++) recs.push(nextRecord(size, size));
    st.batch_calls++;
    try {
      const r = await client.send(new PutRecordBatchCommand({ DeliveryStreamName: stream, Records: recs.map((x) => ({ Data: x.data })) }));
      const acked = [];
      let thr = 0;
      (r.RequestResponses || []).forEach((e, i) => {
        if (e.RecordId) { acked.push(recs[i].id); st.bytes_acked += recs[i].data.length; }
        else {
          st.entry_codes[e.ErrorCode] = (st.entry_codes[e.ErrorCode] || 0) + 1;
          if (e.ErrorCode === 'ServiceUnavailableException') { thr++; st.entry_message = e.ErrorMessage; }
          else st.other_failed_entries++;
        }
      });
      st.throttled_entries += thr;
      if (thr) throttledCalls++;
      if (acked.length) { fs.writeSync(ackFd, acked.join('\n') + '\n'); st.acked += acked.length; }
    } catch (e) {
      const k = `${errName(e)}/${errStatus(e)}`;
      st.call_errors[k] = (st.call_errors[k] || 0) + 1;
      if (errName(e) === 'ServiceUnavailableException') throttledCalls++;
      await sleep(50);
    }
  }
  // Spool (nearly) full: single PutRecords until one is refused as a whole
  // with HTTP 503 (a batch may be refused while a single record still fits).
  st.putrecord_acked = 0;
  for (let i = 0; i < 5000 && Date.now() - t0 < maxMs + 30000; i++) {
    const rec = nextRecord(size, size);
    try {
      const r = await client.send(new PutRecordCommand({ DeliveryStreamName: stream, Record: { Data: rec.data } }));
      st.putrecord_status = 200;
      if (r.RecordId) { fs.writeSync(ackFd, rec.id + '\n'); st.acked++; st.putrecord_acked++; st.bytes_acked += rec.data.length; }
    } catch (e) {
      st.putrecord_status = errStatus(e);
      st.putrecord_type = errName(e);
      st.putrecord_message = e.message;
      break;
    }
  }
  fs.closeSync(ackFd);
  st.seconds = (Date.now() - t0) / 1000;
  console.log(JSON.stringify(st));
  process.exit(0);
}

const cmds = { send: cmdSend, load: cmdLoad, fill: cmdFill };
if (!cmds[cmd]) { console.error('usage: fh.js send|load|fill ...'); process.exit(2); }
cmds[cmd]().catch((e) => { console.error('fatal:', e); process.exit(3); });
