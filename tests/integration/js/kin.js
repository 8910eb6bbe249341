// Kinesis driver for the integration tests and the bench (kinesalite),
// built on @aws-sdk/client-kinesis over HTTP/1.1 and aws-kinesis-agg.
// Every user record's data is "<tag>-<seq 7 digits>\n" (plus, with
// --stamp, " <send ms>" before the newline), so the delivered output can
// be checked line by line.
//
// usage:
//   node kin.js create --endpoint URL --stream S --shards N
//   node kin.js put    --endpoint URL --stream S --tag T --first F --count N
//                      [--kpl K] [--sent FILE] [--stamp]
//       PutRecords of 500; with --kpl K, user records are aggregated K per
//       Kinesis record (KPL format). Failed entries are resent. Appends the
//       ids put to --sent.
//   node kin.js rate   --endpoint URL --stream S --tag T --rate R --seconds D
//                      [--sent FILE]
//       about R records/s for D s, stamped; prints {"sent": n}.
//   node kin.js split  --endpoint URL --stream S --shard ID
//   node kin.js merge  --endpoint URL --stream S --shard ID --adjacent ID
//   node kin.js putraw --endpoint URL --stream S --hex HEX
//   node kin.js putraw --endpoint URL --stream S --id ID --size N
//       one record with exactly these bytes (malformed KPL tests), or of
//       N bytes: "<ID> xxx...x\n" (size limits).
//   node kin.js putagg --endpoint URL --stream S --tag T --ehks K1,K2,...
//       one KPL aggregate of user records T-0000000... with these explicit
//       hash keys; the Kinesis record is routed by the first.
//   node kin.js shards --endpoint URL --stream S
//   node kin.js drain  --endpoint URL --stream S --count N [--limit L]
//       GetRecords from TRIM_HORIZON on every shard (one loop per shard,
//       no pause) until N records were read; prints records/s: what
//       kinesalite serves to a reader that does nothing else.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const K = require('@aws-sdk/client-kinesis');
const { NodeHttpHandler } = require('@smithy/node-http-handler');
const agg = require('aws-kinesis-agg');

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
const kc = new K.KinesisClient({
  endpoint: args.endpoint, region: 'us-east-1', maxAttempts: 5,
  credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' },
  requestHandler: new NodeHttpHandler(),
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitActive(stream) {
  for (let i = 0; i < 200; i++) {
    const d = await kc.send(new K.DescribeStreamSummaryCommand({ StreamName: stream }));
    if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') return;
    await sleep(50);
  }
  throw new Error('stream not ACTIVE');
}

function userRecords(tag, first, count, stamp) {
  const out = [];
  for (let i = first; i < first + count; i++) {
    const id = `${tag}-${String(i).padStart(7, '0')}`;
    const line = stamp ? `${id} ${Date.now()}\n` : `${id}\n`;
    out.push({ id, data: Buffer.from(line), partitionKey: `pk-${crypto.randomBytes(6).toString('hex')}` });
  }
  return out;
}

function aggregate(recs) {
  const ra = new agg.RecordAggregator();
  for (const r of recs) ra.addUserRecord({ partitionKey: r.partitionKey, data: r.data });
  const enc = ra.build();
  return { Data: enc.data, PartitionKey: enc.partitionKey };
}

async function putAll(stream, entries) {
  let todo = entries;
  for (let attempt = 0; todo.length > 0; attempt++) {
    if (attempt > 20) throw new Error('PutRecords keeps failing');
    const res = await kc.send(new K.PutRecordsCommand({ StreamName: stream, Records: todo }));
    const again = [];
    res.Records.forEach((r, i) => { if (r.ErrorCode) again.push(todo[i]); });
    todo = again;
    if (todo.length) await sleep(100);
  }
}

async function put(o) {
  const first = Number(o.first || 0), count = Number(o.count), kpl = Number(o.kpl || 0);
  const recs = userRecords(o.tag, first, count, !!o.stamp);
  let entries = [];
  if (kpl > 0) {
    for (let i = 0; i < recs.length; i += kpl) entries.push(aggregate(recs.slice(i, i + kpl)));
  } else {
    entries = recs.map((r) => ({ Data: r.data, PartitionKey: r.partitionKey }));
  }
  for (let i = 0; i < entries.length; i += 500) await putAll(o.stream, entries.slice(i, i + 500));
  if (o.sent) fs.appendFileSync(o.sent, recs.map((r) => r.id + '\n').join(''));
  console.log(JSON.stringify({ put: recs.length, kinesisRecords: entries.length }));
}

async function rate(o) {
  const r = Number(o.rate), secs = Number(o.seconds), t0 = Date.now();
  let n = 0;
  const tick = 50;
  while (Date.now() - t0 < secs * 1000) {
    const due = Math.floor(((Date.now() - t0) / 1000) * r) - n;
    if (due > 0) {
      const recs = userRecords(o.tag, n, Math.min(due, 500), true);
      await putAll(o.stream, recs.map((x) => ({ Data: x.data, PartitionKey: x.partitionKey })));
      if (o.sent) fs.appendFileSync(o.sent, recs.map((x) => x.id + '\n').join(''));
      n += recs.length;
    } else await sleep(tick);
  }
  console.log(JSON.stringify({ sent: n, seconds: (Date.now() - t0) / 1000 }));
}

async function shards(stream) {
  const r = await kc.send(new K.ListShardsCommand({ StreamName: stream }));
  return r.Shards;
}

async function main() {
  const cmd = args._[0];
  if (cmd === 'create') {
    await kc.send(new K.CreateStreamCommand({ StreamName: args.stream, ShardCount: Number(args.shards) }));
    await waitActive(args.stream);
  } else if (cmd === 'put') {
    await put(args);
  } else if (cmd === 'putraw') {
    const data = args.hex ? Buffer.from(args.hex, 'hex')
      : Buffer.from(args.id + ' ' + 'x'.repeat(Number(args.size) - args.id.length - 2) + '\n');
    await kc.send(new K.PutRecordCommand({ StreamName: args.stream, PartitionKey: 'raw', Data: data }));
  } else if (cmd === 'putagg') {
    const ra = new agg.RecordAggregator();
    const ehks = String(args.ehks).split(',');
    ehks.forEach((k, i) => ra.addUserRecord({ partitionKey: 'pk', explicitHashKey: k,
      data: Buffer.from(`${args.tag}-${String(i).padStart(7, '0')}\n`) }));
    const enc = ra.build();
    await kc.send(new K.PutRecordCommand({ StreamName: args.stream, PartitionKey: 'pk',
      ExplicitHashKey: ehks[0], Data: enc.data }));
  } else if (cmd === 'rate') {
    await rate(args);
  } else if (cmd === 'split') {
    const s = (await shards(args.stream)).find((x) => x.ShardId === args.shard);
    const lo = BigInt(s.HashKeyRange.StartingHashKey), hi = BigInt(s.HashKeyRange.EndingHashKey);
    await kc.send(new K.SplitShardCommand({ StreamName: args.stream, ShardToSplit: args.shard,
      NewStartingHashKey: ((lo + hi) / 2n).toString() }));
    await waitActive(args.stream);
  } else if (cmd === 'merge') {
    await kc.send(new K.MergeShardsCommand({ StreamName: args.stream, ShardToMerge: args.shard,
      AdjacentShardToMerge: args.adjacent }));
    await waitActive(args.stream);
  } else if (cmd === 'drain') {
    const want = Number(args.count), limit = Number(args.limit || 10000);
    const list = await shards(args.stream);
    let got = 0;
    const t0 = Date.now();
    await Promise.all(list.map(async (s) => {
      let it = (await kc.send(new K.GetShardIteratorCommand({ StreamName: args.stream,
        ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      while (it && got < want) {
        const r = await kc.send(new K.GetRecordsCommand({ ShardIterator: it, Limit: limit }));
        got += r.Records.length;
        if (r.Records.length === 0) { if (r.MillisBehindLatest === 0) break; }
        it = r.NextShardIterator;
      }
    }));
    const secs = (Date.now() - t0) / 1000;
    console.log(JSON.stringify({ read: got, seconds: secs, records_per_s: Math.round(got / secs) }));
  } else if (cmd === 'shards') {
    console.log(JSON.stringify(await shards(args.stream)));
  } else {
    throw new Error('unknown command ' + cmd);
  }
}
main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
