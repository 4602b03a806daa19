import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { freePort, MAIN, ROOT, ServiceProcess, startService } from '@test/support/service-process';
import { ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** The built service, booted as `node dist/main.js` with no DATABASE_URL and no REDIS_URL. */
function boot(storage: string, port: number): Promise<ServiceProcess> {
  return startService(
    { STORAGE_DIR: storage, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    port,
  );
}

async function stop(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null) return proc.exitCode;
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

async function openDb(storage: string): Promise<PGlite> {
  return PGlite.create(path.join(storage, 'db'), { extensions: { vector } });
}

describe('embedded mode (no DATABASE_URL, no REDIS_URL): dist/main.js', () => {
  let storage: string;
  let port: number;

  beforeAll(async () => {
    if (!existsSync(MAIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    storage = mkdtempSync(path.join(tmpdir(), 'llmops-embedded-'));
    port = await freePort();
  }, 120_000);
  afterAll(() => rmSync(storage, { recursive: true, force: true }));

  it('boots on PGlite with pgvector, keeps data across restarts, and shuts down cleanly', async () => {
    // First boot: migrations create the schema and extensions.
    const first = await boot(storage, port);
    const ping = await (await fetch(`http://127.0.0.1:${port}/ping`)).json();
    expect(ping).toEqual({ code: 'success', message: '', data: { ping: 'pong' } });
    expect(await stop(first.proc)).toBe(0);

    // No secrets configured: generated once into STORAGE_DIR (0600), logged without the values.
    const secretsFile = path.join(storage, 'secrets.json');
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    const secrets = readFileSync(secretsFile, 'utf8');
    const { JWT_SECRET } = JSON.parse(secrets) as { JWT_SECRET: string };
    expect(first.logs()).toContain(`Generated JWT_SECRET and ENCRYPTION_KEY into ${secretsFile}`);
    expect(first.logs()).not.toContain(JWT_SECRET);

    // The database on disk has the migrations and a working vector type.
    let db = await openDb(storage);
    const migrations = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM migrations');
    expect(migrations.rows[0].n).toBeGreaterThanOrEqual(2);
    await db.exec(`
      CREATE TABLE smoke_items (id serial PRIMARY KEY, label text NOT NULL, embedding vector(3) NOT NULL);
      INSERT INTO smoke_items (label, embedding) VALUES ('x', '[1,0,0]'), ('y', '[0,1,0]'), ('z', '[0,0,1]');
    `);
    const nearest = await db.query<{ label: string }>(
      `SELECT label FROM smoke_items ORDER BY embedding <=> '[0.1,0.9,0]' LIMIT 1`,
    );
    expect(nearest.rows[0].label).toBe('y');
    await db.close();

    // Second boot on the same directory: no re-migration problems, still serving.
    const second = await boot(storage, port);
    const again = await (await fetch(`http://127.0.0.1:${port}/ping`)).json();
    expect(again.code).toBe('success');
    const queued = await (await fetch(`http://127.0.0.1:${port}/health/ready`)).json();
    expect(queued.status).toBe('ok');
    expect(await stop(second.proc)).toBe(0);
    // The second boot reused the secrets.
    expect(readFileSync(secretsFile, 'utf8')).toBe(secrets);
    expect(second.logs()).not.toContain('Generated JWT_SECRET');

    // Data written before the restart is still there.
    db = await openDb(storage);
    const rows = await db.query<{ label: string }>(
      `SELECT label FROM smoke_items ORDER BY embedding <=> '[0,0,0.8]' LIMIT 1`,
    );
    expect(rows.rows[0].label).toBe('z');
    const count = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM smoke_items');
    expect(count.rows[0].n).toBe(3);
    const after = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM migrations');
    expect(after.rows[0].n).toBe(migrations.rows[0].n);
    await db.close();
  }, 180_000);
});
