// The load worker thread (started by worker-driver.ts): runs the BuiltinLoadDriver and its undici
// client on its own event loop, so the harness's work on the main thread (fault proxies, scrapes,
// journal writes) cannot delay when requests are sent. Records go back in batches.
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { BuiltinLoadDriver, seededPayload } from './builtin.ts';
import { adoptClock } from './clock.ts';
import type { RequestRecord } from './driver.ts';
import type { FromWorker, ToWorker, WorkerInit } from './worker-driver.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
// One clock with the main thread: records' times and drift start times compare directly.
adoptClock(init.clock);

/** This thread's nice value, after applying `threadNice` where permitted (Linux: per-thread). */
function threadPriority(): number | null {
  let tid: number;
  try {
    tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop()); // this thread's id
  } catch {
    return null; // not Linux
  }
  if (init.threadNice !== undefined) {
    try {
      os.setPriority(tid, init.threadNice);
    } catch {
      // no CAP_SYS_NICE: keep the inherited priority (reported)
    }
  }
  return os.getPriority(tid);
}
const nice = threadPriority();

const post = (m: FromWorker) => port.postMessage(m);
const fail = (e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  post({ type: 'error', message: err.message, stack: err.stack });
};

let batch: RequestRecord[] = [];
let flushTimer: NodeJS.Timeout | undefined;
const flush = () => {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (batch.length === 0) return;
  const out = batch;
  batch = [];
  post({ type: 'records', records: out });
};

let stopRequested = false;
const ready: Promise<BuiltinLoadDriver> = (async () => {
  // The payload generator is built here: closures cannot cross threads, plain options can.
  const payload = await seededPayload(init.seed, init.payloadOptions);
  const driver = new BuiltinLoadDriver({ ...init.config, seed: init.seed, payload });
  driver.onFirstChange((change) => post({ type: 'first-change', change }));
  driver.onRecord((r) => {
    batch.push(r);
    if (batch.length >= init.batchMax) flush();
    else flushTimer ??= setTimeout(flush, init.batchMs);
  });
  driver.done.then(
    (r) => {
      flush(); // every record before `done`: the port delivers messages in order
      const { latencyHistogram: _l, schedulingLagHistogram: _s, records: _r, ...plain } = r;
      post({ type: 'done', result: plain });
    },
    (e) => {
      flush();
      fail(e);
    },
  );
  return driver;
})();
ready.catch(fail);

port.on('message', (m: ToWorker) => {
  void ready
    .then(async (driver) => {
      if (m.type === 'start') {
        if (stopRequested) return post({ type: 'started', nice });
        await driver.start();
        post({ type: 'started', nice });
      } else if (m.type === 'stop') {
        stopRequested = true;
        await driver.stop();
      } else if (m.type === 'transform') {
        const startMs = await driver.setTransformSpec(m.id, m.spec);
        post({ type: 'transform', id: m.id, seq: m.seq, startMs });
      }
    })
    .catch(fail);
});
