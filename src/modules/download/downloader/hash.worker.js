'use strict';
// Worker thread of SnapshotDownloader (snapshot-downloader.ts, WorkerFrontHasher): keeps the
// digest of one downloading file's bytes [0, front), reading them back from the file (mostly the
// page cache) as they join the front, so that hashing, a full pass of CPU over the file, runs
// beside the transfer instead of on the thread that receives and writes it. Plain CommonJS so the
// same file runs under ts-jest, ts-node and from dist (copied there as a nest-cli asset).
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');

/** Read size: one buffer, reused. */
const READ_BYTES = 1024 * 1024;
/** A progress message at least every this many bytes (and whenever the worker catches up). */
const REPORT_BYTES = 16 * 1024 * 1024;

/** @type {{ file: string, kind: 'sha256' | 'gitSha1', size: number, generation: number }} */
const { file, kind, size } = workerData;
const buf = Buffer.allocUnsafe(READ_BYTES);
const fd = fs.openSync(file, 'r');

let generation = workerData.generation;
let hash;
/** Bytes [0, front) are in `hash`; bytes [0, until) are in the file, as the parent said. */
let front = 0;
let until = 0;
let failed = false;
let pumping = false;
/** For the parent's rate: bytes hashed and the time spent in `update`. */
let hashedBytes = 0;
let hashMs = 0;

function fresh() {
  hash = kind === 'sha256' ? createHash('sha256') : createHash('sha1').update(`blob ${size}\0`);
  front = 0;
  until = 0;
  failed = false;
}

function report(extra) {
  parentPort.postMessage({ generation, front, hashedBytes, hashMs, ...extra });
}

/** Hashes from the file up to `until`, letting messages in between reads. */
async function pump() {
  if (pumping) return;
  pumping = true;
  try {
    let sinceReport = 0;
    while (!failed && front < until) {
      const gen = generation;
      const n = Math.min(READ_BYTES, until - front);
      let bytesRead;
      try {
        bytesRead = fs.readSync(fd, buf, 0, n, front);
      } catch (err) {
        failed = true;
        report({ error: err instanceof Error ? err.message : String(err) });
        break;
      }
      if (bytesRead === 0) {
        failed = true;
        report({ error: `Unexpected end of file at byte ${front}` });
        break;
      }
      const t0 = performance.now();
      hash.update(buf.subarray(0, bytesRead));
      hashMs += performance.now() - t0;
      hashedBytes += bytesRead;
      front += bytesRead;
      sinceReport += bytesRead;
      if (front === size) {
        report({ digest: hash.digest('hex') });
        sinceReport = 0;
      } else if (sinceReport >= REPORT_BYTES) {
        report({});
        sinceReport = 0;
      }
      // A reset or a further frontier may be waiting; a reset drops what this read hashed.
      await new Promise((resolve) => setImmediate(resolve));
      if (gen !== generation) sinceReport = 0;
    }
    if (sinceReport > 0 && !failed) report({});
  } finally {
    pumping = false;
  }
}

parentPort.on('message', (m) => {
  if (m.type === 'reset') {
    generation = m.generation;
    fresh();
  } else if (m.type === 'advance' && m.generation === generation && m.until > until) {
    until = Math.min(m.until, size);
    void pump();
  } else if (m.type === 'close') {
    // The descriptor is the process's: a thread that ends does not close it.
    fs.closeSync(fd);
    process.exit(0);
  }
});

fresh();
