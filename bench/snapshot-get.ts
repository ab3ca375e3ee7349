// Snapshot GET benchmark: a 200 MB snapshot downloaded with `Accept-Encoding: gzip` (what browsers
// and most HTTP libraries send) against the same download without it, alternating, best of 5.
// Files are sent as stored, so both should take the same time; on-the-fly gzip once made it 30×
// slower. Prints the ratio (target ≥ 0.9: as fast within noise).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { call, freePort, startServer, stopServer } from './lib/unit-process.ts';

const sizeMb = 200;
const rounds = 5;
const target = 0.9;

async function download(url: string, headers: Record<string, string>): Promise<{ seconds: number; bytes: number; encoding: string | null }> {
  const started = performance.now();
  const res = await call(url, 'GET', undefined, headers);
  let bytes = 0;
  for await (const chunk of res.body!) bytes += (chunk as Uint8Array).length;
  return { seconds: (performance.now() - started) / 1000, bytes, encoding: res.headers.get('content-encoding') };
}

export async function snapshotGetBench(log: (line: string) => void = console.log): Promise<{ passed: boolean }> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-get-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startServer(path.join(work, 'data'), port);
  try {
    if ((await call(`${base}/__ctl/Cell`, 'POST', { Name: 'bench' })).status !== 201) throw new Error('could not create the cell');
    // Compressible bytes, as application/octet-stream: the case hapi would gzip.
    const put = await call(`${base}/bench/__snapshot/snap.bin`, 'PUT', Buffer.alloc(sizeMb * 1024 * 1024, 'snapshot bytes '), { 'content-type': 'application/octet-stream' });
    if (put.status !== 201) throw new Error(`PUT answered ${put.status}`);
    const url = `${base}/bench/__snapshot/snap.bin`;
    let plain = Infinity;
    let gzip = Infinity;
    for (let round = 0; round < rounds; round++) {
      const without = await download(url, {});
      const withGzip = await download(url, { 'accept-encoding': 'gzip' });
      if (withGzip.encoding || withGzip.bytes !== sizeMb * 1024 * 1024) throw new Error(`sent ${withGzip.bytes} bytes with Content-Encoding ${withGzip.encoding}`);
      plain = Math.min(plain, without.seconds);
      gzip = Math.min(gzip, withGzip.seconds);
    }
    const ratio = plain / gzip;
    log(`snapshot GET bench: ${sizeMb} MB, best of ${rounds}`);
    log(`  without Accept-Encoding ${plain.toFixed(2)} s, with Accept-Encoding: gzip ${gzip.toFixed(2)} s (no Content-Encoding)`);
    log(`  speed ratio with/without: ${ratio.toFixed(2)}× (target ≥ ${target})`);
    return { passed: ratio >= target };
  } finally {
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}
