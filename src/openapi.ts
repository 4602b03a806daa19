import 'reflect-metadata';
import { AppConfig, parseEnv } from '@app/config';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AppModule } from './app.module';
import { buildOpenApiDocument } from './bootstrap/swagger';

/**
 * Writes docs/openapi.json from the built app (the Swagger CLI plugin only runs in `nest build`);
 * `--check` fails when the committed file is stale. Boots in preview mode: no database needed.
 */
async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const storage = mkdtempSync(path.join(tmpdir(), 'llmops-openapi-'));
  const config = new AppConfig(
    parseEnv({
      NODE_ENV: 'development',
      STORAGE_DIR: storage,
      APP_ROLES: 'api,worker',
      LOG_LEVEL: 'silent',
      // Nothing is signed or sealed while the document is generated: throwaway secrets.
      JWT_SECRET: randomBytes(32).toString('hex'),
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    }),
  );
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    preview: true,
    logger: false,
    abortOnError: false,
  });
  const doc = buildOpenApiDocument(app);
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  const file = path.resolve(__dirname, '..', '..', 'docs', 'openapi.json');
  rmSync(storage, { recursive: true, force: true });
  if (check) {
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      /* missing counts as stale */
    }
    if (current !== text) {
      console.error('docs/openapi.json is stale: run `npm run openapi` and commit the result.');
      process.exit(1);
    }
    console.log(`docs/openapi.json is up to date (${Object.keys(doc.paths).length} paths)`);
    return;
  }
  writeFileSync(file, text);
  console.log(`wrote docs/openapi.json (${Object.keys(doc.paths).length} paths)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
