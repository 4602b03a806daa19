import { ConfigModule, parseEnv } from '@app/config';
import { Test } from '@nestjs/testing';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalFileStorage } from './local-file-storage';
import { StorageModule } from './storage.module';
import { FILE_STORAGE, FileStorage } from './storage.types';

describe('StorageModule', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'llmops-storage-module-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('provides a LocalFileStorage rooted at STORAGE_DIR/files', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(parseEnv({ STORAGE_DIR: dir })), StorageModule],
    }).compile();
    const storage = moduleRef.get<FileStorage>(FILE_STORAGE);
    expect(storage).toBeInstanceOf(LocalFileStorage);
    expect(storage.resolvePath('a/b')).toBe(path.join(dir, 'files', 'a', 'b'));
    await storage.write('a/b', 'x');
    expect(await fs.readFile(path.join(dir, 'files', 'a', 'b'), 'utf8')).toBe('x');
    await moduleRef.close();
  });
});
