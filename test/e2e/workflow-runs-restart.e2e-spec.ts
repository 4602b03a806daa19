import {
  freePort,
  MAIN,
  ROOT,
  serviceApi,
  signUpOverHttp,
  ServiceProcess,
  startService,
} from '@test/support/service-process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/**
 * A process killed (SIGKILL) while a queued workflow run waits on its second node: after a
 * restart on the same storage the job resumes the run, the node that had finished is restored
 * from its stored result (its HTTP call is not made again) and the run ends succeeded.
 */
describe('workflow runs survive a killed process (embedded mode, dist/main.js)', () => {
  let storage: string;
  let port: number;
  let service: ServiceProcess | undefined;
  let counter: Server;
  let base: string;
  const hits = new Map<string, number>();
  /** While true, /slow never answers (the run is stuck in that node when we kill it). */
  let hang = false;
  const hanging: ServerResponse[] = [];

  beforeAll(async () => {
    if (!existsSync(MAIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    storage = mkdtempSync(path.join(tmpdir(), 'llmops-wf-restart-'));
    port = await freePort();
    counter = createServer((req, res) => {
      const p = new URL(req.url ?? '/', 'http://x').pathname;
      hits.set(p, (hits.get(p) ?? 0) + 1);
      if (p === '/slow' && hang) hanging.push(res);
      else res.end(`hit ${p} #${hits.get(p)}`);
    });
    await new Promise<void>((r) => counter.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(counter.address() as AddressInfo).port}`;
  }, 180_000);
  afterAll(async () => {
    if (service && service.proc.exitCode === null) service.proc.kill('SIGKILL');
    for (const res of hanging) res.destroy();
    await new Promise((r) => counter?.close(r));
    rmSync(storage, { recursive: true, force: true });
  });

  const boot = () =>
    startService(
      {
        STORAGE_DIR: storage,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      },
      port,
    );
  const api = (method: string, path: string, token?: string, body?: unknown) =>
    serviceApi(port)(method, path, token, body);

  it('resumes after SIGKILL without re-running the finished node', async () => {
    service = await boot();
    const login = await signUpOverHttp(port, 'wf-restart@example.test', 'passw0rd-wf-restart');
    let token = await login();

    const gen = (name: string, type = 'string') => ({
      name,
      description: '',
      required: true,
      type,
      value: { type: 'generated', content: '' },
      meta: {},
    });
    const http = (id: string, url: string) => ({
      id,
      node_type: 'http_request',
      title: id,
      description: '',
      position: { x: 0, y: 0 },
      url,
      method: 'get',
      inputs: [],
      outputs: [gen('status_code', 'int'), gen('text')],
    });
    const refTo = (name: string, node: string, variable: string) => ({
      name,
      description: '',
      required: true,
      type: 'string',
      value: { type: 'ref', content: { ref_node_id: node, ref_var_name: variable } },
      meta: {},
    });
    const nodes = [
      {
        id: 'S',
        node_type: 'start',
        title: 'Start',
        description: '',
        position: { x: 0, y: 0 },
        inputs: [],
      },
      http('Count', `${base}/count`),
      http('Slow', `${base}/slow`),
      {
        id: 'E',
        node_type: 'end',
        title: 'End',
        description: '',
        position: { x: 0, y: 0 },
        outputs: [refTo('first', 'Count', 'text'), refTo('second', 'Slow', 'text')],
      },
    ];
    const chain = ['S', 'Count', 'Slow', 'E'];
    const typeOf = new Map(nodes.map((n) => [n.id, n.node_type]));
    const edges = chain.slice(1).map((target, i) => ({
      id: `e${i}`,
      source: chain[i],
      source_type: typeOf.get(chain[i]),
      target,
      target_type: typeOf.get(target),
    }));
    const wf = await api('POST', '/workflows', token, {
      name: 'Resumable',
      tool_call_name: 'resumable',
      icon: 'http://127.0.0.1/i.png',
      description: 'Survives a crash',
    });
    expect(wf.code).toBe('success');
    const id = wf.data.id as string;
    expect((await api('POST', `/workflows/${id}/draft-graph`, token, { nodes, edges })).code).toBe(
      'success',
    );
    const stream = (await api('POST', `/workflows/${id}/debug`, token, {})) as string;
    expect(stream).toContain('event: workflow');
    expect((await api('POST', `/workflows/${id}/publish`, token)).code).toBe('success');
    expect([hits.get('/count'), hits.get('/slow')]).toEqual([1, 1]);

    hang = true;
    const started = await api('POST', `/workflows/${id}/runs`, token, {});
    expect(started.code).toBe('success');
    const runId = started.data.id as string;
    for (const until = Date.now() + 30_000; hits.get('/slow') !== 2;) {
      if (Date.now() > until) throw new Error(`the run did not reach Slow\n${service.logs()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = (await api('GET', `/workflows/${id}/runs/${runId}`, token)).data;
    expect(before.status).toBe('running');
    expect(before.results.map((r: { node_id: string }) => r.node_id)).toEqual(['S', 'Count']);
    service.proc.kill('SIGKILL');
    await new Promise((res) => service!.proc.once('exit', res));
    hang = false;

    service = await boot();
    token = await login();
    let run: any;
    for (const until = Date.now() + 60_000; ;) {
      run = (await api('GET', `/workflows/${id}/runs/${runId}`, token)).data;
      if (run.status !== 'running') break;
      if (Date.now() > until) throw new Error(`not finished: ${JSON.stringify(run)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(run).toMatchObject({
      status: 'succeeded',
      source: 'published',
      outputs: { first: 'hit /count #2', second: 'hit /slow #3' },
      error: '',
    });
    // Count ran once in this run (before the kill) and was restored, not called again.
    expect(hits.get('/count')).toBe(2);
    expect(hits.get('/slow')).toBe(3);
    expect(run.results.map((r: { node_id: string }) => r.node_id)).toEqual([
      'S',
      'Count',
      'Slow',
      'E',
    ]);
    const count = run.results.find((r: { node_id: string }) => r.node_id === 'Count');
    expect(count.id).toBe(before.results[1].id);
    service.proc.kill('SIGTERM');
    await new Promise((res) => service!.proc.once('exit', res));
  }, 150_000);
});
