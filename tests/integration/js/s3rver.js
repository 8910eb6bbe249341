// Start s3rver 3.7.1 (impl "3") or the @20minutes/s3rver 5.0.0 fork (impl
// "5", which verifies SigV4 secrets) on 127.0.0.1 and print "PORT <n>" on
// stdout once it accepts connections. Port 0 = kernel-chosen.
// usage: node s3rver.js <3|5> <dir> <port> [bucket...]
'use strict';
const fs = require('fs');
const [impl, dir, port, ...buckets] = process.argv.slice(2);
if (!impl || !dir || port === undefined) {
  console.error('usage: s3rver.js <3|5> <dir> <port> [bucket...]');
  process.exit(2);
}
const S3rver = require(impl === '5' ? '@20minutes/s3rver' : 's3rver');
fs.mkdirSync(dir, { recursive: true });
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory: dir,
  silent: process.env.S3RVER_VERBOSE !== '1',
  vhostBuckets: false,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
server.run().then(
  (addr) => { process.stdout.write(`PORT ${addr.port}\n`); },
  (err) => { console.error('s3rver failed to start:', err && err.message); process.exit(1); },
);
const stop = () => { server.close().finally(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
