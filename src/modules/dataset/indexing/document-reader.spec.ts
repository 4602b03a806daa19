import { buildZip, docxEntries, textPdf } from '@test/support/document-fixtures';
import { cleanText } from './cleaner';
import { DocumentReader } from './document-reader';
import { parseDocument } from './parsers';
import { DEFAULT_PROCESS_RULE, DocumentParseError, type ProcessRule } from './pipeline.types';

const CLEAN_ALL: ProcessRule = {
  ...DEFAULT_PROCESS_RULE,
  pre_process_rules: [
    { id: 'remove_extra_space', enabled: true },
    { id: 'remove_url_and_email', enabled: true },
  ],
};

/** A docx of `paragraphs` paragraphs: seconds of mammoth and turndown for a large one. */
function bigDocx(paragraphs: number): Buffer {
  const body = Array.from(
    { length: paragraphs },
    (_, i) =>
      `<w:p><w:r><w:t xml:space="preserve">Paragraph ${i}: the knowledge base keeps its text, mail me at a${i}@example.com. 知识库第${i}段。</w:t></w:r></w:p>`,
  ).join('');
  return buildZip(docxEntries(body));
}

describe('DocumentReader (parsing on a worker thread)', () => {
  let reader: DocumentReader;

  beforeAll(() => {
    reader = new DocumentReader();
  });
  afterAll(async () => {
    await reader.onApplicationShutdown();
  });

  it('gives the text parseDocument and cleanText give on this thread', async () => {
    for (const [bytes, extension] of [
      [buildZip(docxEntries()), 'docx'],
      [textPdf(), 'pdf'],
      [Buffer.from('Mail  me at x@example.com   or see https://example.com now\n\n\nok'), 'txt'],
    ] as const) {
      const input = { bytes, extension, name: `a.${extension}` };
      const expected = cleanText(await parseDocument(input), CLEAN_ALL);
      await expect(reader.read(input, CLEAN_ALL)).resolves.toBe(expected);
    }
  }, 60_000);

  it('answers an unreadable file with DocumentParseError and its message, and goes on', async () => {
    const err = await reader
      .read(
        { bytes: Buffer.from('%PDF-1.4 garbage'), extension: 'pdf', name: 'bad.pdf' },
        CLEAN_ALL,
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DocumentParseError);
    expect((err as Error).message).toContain('bad.pdf');
    const over = await reader
      .read(
        { bytes: Buffer.from('x'.repeat(200)), extension: 'txt', name: 'long.txt' },
        CLEAN_ALL,
        {
          maxChars: 100,
        },
      )
      .catch((e: unknown) => e);
    expect(over).toBeInstanceOf(DocumentParseError);
    expect((over as Error).message).toMatch(/more than 100 characters/);
    await expect(
      reader.read({ bytes: Buffer.from('fine'), extension: 'txt', name: 'ok.txt' }, CLEAN_ALL),
    ).resolves.toBe('fine');
  }, 60_000);

  it('leaves this thread free while a large document is parsed', async () => {
    const input = { bytes: bigDocx(30_000), extension: 'docx', name: 'big.docx' };
    // The reader thread is up (and has loaded mammoth) before the measurement.
    await reader.read(
      { bytes: buildZip(docxEntries()), extension: 'docx', name: 'w.docx' },
      CLEAN_ALL,
    );
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    let text: string;
    try {
      text = await reader.read(input, CLEAN_ALL);
    } finally {
      clearInterval(timer);
    }
    const ms = performance.now() - started;
    expect(text).toContain('Paragraph 29999: the knowledge base keeps its text');
    expect(text).toContain('知识库第29999段');
    expect(text).not.toContain('@example.com');
    // On this thread the parse would allow no tick at all until it ended.
    expect(ms).toBeGreaterThan(200);
    // Every 5 ms while the main thread is idle; a tenth of that leaves room for a loaded machine.
    expect(ticks).toBeGreaterThan(ms / 5 / 10);
  }, 120_000);

  it('stops a read at its time limit, and at an abort, with a fresh thread for the next', async () => {
    const slow = new DocumentReader({ timeoutMs: 50, maxWorkers: 1 });
    try {
      const input = { bytes: bigDocx(30_000), extension: 'docx', name: 'big.docx' };
      const err = await slow.read(input, CLEAN_ALL).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DocumentParseError);
      expect((err as Error).message).toBe(
        '"big.docx" took longer than 1 s to read; split it into smaller files',
      );

      const controller = new AbortController();
      const reason = new Error('cancelled by the user');
      const reading = slow.read(input, CLEAN_ALL, { signal: controller.signal });
      controller.abort(reason);
      await expect(reading).rejects.toBe(reason);
    } finally {
      await slow.onApplicationShutdown();
    }
    await expect(
      reader.read({ bytes: Buffer.from('after'), extension: 'txt', name: 'n.txt' }, CLEAN_ALL),
    ).resolves.toBe('after');
  }, 60_000);
});
