// Not the @app/common barrel: the reader thread loads this file, and the barrel brings Nest.
import { lazyRequire } from '@app/common/lazy-require';
import type ExcelJS from 'exceljs';
import type WordExtractor from 'word-extractor';

// The parsers' libraries load on the first document of their type, not at boot.
const csvParse = lazyRequire<typeof import('csv-parse')>('csv-parse');
const excel = lazyRequire<typeof import('exceljs')>('exceljs');
const mammothLib = lazyRequire<typeof import('mammoth')>('mammoth');
const wordExtractor = lazyRequire<typeof import('word-extractor')>('word-extractor');
import { htmlToMarkdown } from './html-markdown';
import { assertOleSane } from './ole-guard';
import { assertPdfStreamsWithinLimit } from './pdf-guard';
import { DocumentParseError, type ParseInput, type ParseOptions } from './pipeline.types';
import { assertZipWithinLimits, DEFAULT_ZIP_LIMITS } from './zip-guard';

/** Without a caller's limit, text stops at this many characters (a 15 MB upload of text). */
export const DEFAULT_MAX_CHARS = 20_000_000;

/**
 * Collects a document's text and stops as soon as it outgrows maxChars or the job is aborted,
 * so a huge sheet or PDF is refused while it is being read rather than after.
 */
class TextSink {
  private readonly parts: string[] = [];
  private length = 0;

  constructor(
    private readonly name: string,
    private readonly maxChars: number,
    private readonly signal?: AbortSignal,
  ) {}

  add(text: string): void {
    this.signal?.throwIfAborted();
    this.length += text.length;
    if (this.length > this.maxChars) {
      throw new DocumentParseError(
        `"${this.name}" holds more than ${this.maxChars.toLocaleString('en-US')} characters of ` +
          'text; split it into smaller files',
      );
    }
    this.parts.push(text);
  }

  join(separator: string): string {
    return this.parts.join(separator);
  }
}

/**
 * A document's text, by extension: plain text and Markdown as they are, JSON as indented
 * "key: value" text, PDF page by page, Word and HTML as Markdown, CSV and Excel rows as
 * "header: value; header: value" lines (one row, one retrievable line). Throws
 * DocumentParseError with a message for the user when the file cannot be read; rethrows the
 * signal's reason when aborted.
 */
export async function parseDocument(input: ParseInput, opts: ParseOptions = {}): Promise<string> {
  const text = await parseByExtension(input, opts);
  if (!text.trim()) throw new DocumentParseError(`"${input.name}" contains no text`);
  return text;
}

async function parseByExtension(input: ParseInput, opts: ParseOptions): Promise<string> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const sink = new TextSink(input.name, opts.maxChars ?? DEFAULT_MAX_CHARS, signal);
  const ext = input.extension.toLowerCase().replace(/^\./, '');
  switch (ext) {
    case 'txt':
    case 'md':
    case 'markdown':
      sink.add(decodeText(input.bytes));
      return sink.join('');
    case 'json':
      parseJson(input, sink);
      return sink.join('\n');
    case 'pdf':
      await parsePdf(input, sink, opts);
      return sink.join('\n\n');
    case 'docx':
      await parseDocx(input, sink, opts);
      return sink.join('');
    case 'doc':
      await parseDoc(input, sink);
      return sink.join('\n\n');
    case 'html':
    case 'htm':
      sink.add(htmlToMarkdown(decodeHtml(input.bytes)));
      return sink.join('');
    case 'csv':
      await parseCsvRows(input, sink);
      return sink.join('\n');
    case 'xlsx':
      await parseXlsx(input, sink, opts);
      return sink.join('\n');
    case 'xls':
      // No maintained .xls reader on npm: SheetJS's npm release (xlsx 0.18.5, 2022) has known
      // CVEs (CVE-2023-30533 prototype pollution, CVE-2024-22363 ReDoS); fixed builds are only
      // published on SheetJS's own CDN, outside the registry.
      throw new DocumentParseError(
        `"${input.name}" is an Excel 97-2003 workbook (.xls), which cannot be read: open it in ` +
          'Excel, WPS or LibreOffice, save it as .xlsx and upload that file',
      );
    default:
      throw new DocumentParseError(`"${input.name}": .${ext} files are not supported`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes to text: UTF-8 (a BOM dropped) or UTF-16 with a BOM; bytes that are not UTF-8 are
 * tried as GB18030 (Chinese Windows' encoding, a superset of GBK) before replacement characters.
 */
function decodeText(bytes: Buffer, declared?: string): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  try {
    return utf8.decode(bytes);
  } catch {
    for (const label of [declared, 'gb18030']) {
      if (!label) continue;
      try {
        return new TextDecoder(label, { fatal: true }).decode(bytes);
      } catch {
        // Unknown label or not that encoding either: try the next.
      }
    }
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** HTML honours a <meta charset> in its first kilobytes when the bytes are not UTF-8. */
function decodeHtml(bytes: Buffer): string {
  const head = bytes.subarray(0, 4096).toString('latin1');
  const charset = /<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)/i.exec(head)?.[1];
  return decodeText(bytes, charset);
}

function parseJson(input: ParseInput, sink: TextSink): void {
  let value: unknown;
  try {
    value = JSON.parse(decodeText(input.bytes));
  } catch (err) {
    throw new DocumentParseError(`"${input.name}" is not valid JSON (${(err as Error).message})`);
  }
  try {
    writeJson(value, '', sink);
  } catch (err) {
    if ((err as Error)?.name === 'RangeError') {
      throw new DocumentParseError(`"${input.name}" is nested too deeply to be read`);
    }
    throw err;
  }
}

/**
 * JSON as indented "key: value" lines, "- " for array items, strings unquoted, empty objects and
 * arrays left out. `lead` replaces the indent on the first line (an object inside an array).
 */
function writeJson(value: unknown, indent: string, sink: TextSink, lead = indent): void {
  let first = true;
  const line = (text: string): void => {
    sink.add((first ? lead : indent) + text);
    first = false;
  };
  const nested = `${indent}  `;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (!isContainer(item)) line(`- ${scalar(item)}`);
      else if (isEmpty(item)) continue;
      else if (Array.isArray(item)) {
        line('-');
        writeJson(item, nested, sink);
      } else {
        writeJson(item, nested, sink, `${first ? lead : indent}- `);
        first = false;
      }
    }
  } else if (isContainer(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (!isContainer(item)) line(`${key}: ${scalar(item)}`);
      else if (!isEmpty(item)) {
        line(`${key}:`);
        writeJson(item, nested, sink);
      }
    }
  } else {
    line(scalar(value));
  }
}

function isContainer(value: unknown): value is object {
  return value !== null && typeof value === 'object';
}

function isEmpty(value: object): boolean {
  return Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0;
}

function scalar(value: unknown): string {
  return typeof value === 'string' ? value.replace(/\r?\n/g, ' ') : String(value);
}

interface PdfTextItem {
  str?: string;
  hasEOL?: boolean;
}

async function parsePdf(input: ParseInput, sink: TextSink, opts: ParseOptions): Promise<void> {
  const { signal } = opts;
  const limit = opts.maxUnzippedBytes ?? DEFAULT_ZIP_LIMITS.maxUnzippedBytes;
  await assertPdfStreamsWithinLimit(input.bytes, input.name, limit, signal);
  const { getDocumentProxy } = await import('unpdf');
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // A copy: pdf.js may take over (detach) the buffer it is given. No cMap or font URLs, so
    // pdf.js never fetches anything; verbosity 0 keeps its warnings out of the logs.
    pdf = await getDocumentProxy(new Uint8Array(input.bytes), {
      verbosity: 0,
      isEvalSupported: false,
    });
  } catch (err) {
    throw pdfError(input.name, err);
  }
  try {
    let chars = 0;
    for (let n = 1; n <= pdf.numPages; n++) {
      signal?.throwIfAborted();
      let text: string;
      try {
        const page = await pdf.getPage(n);
        const content = await page.getTextContent();
        text = (content.items as PdfTextItem[])
          .map((item) => (item.str ?? '') + (item.hasEOL ? '\n' : ''))
          .join('')
          .trim();
        page.cleanup();
      } catch (err) {
        throw pdfError(input.name, err);
      }
      if (!text) continue;
      chars += text.length;
      sink.add(text);
    }
    if (chars === 0 && (await drawsText(pdf, signal))) {
      throw new DocumentParseError(
        `"${input.name}" draws its text with fonts that carry no Unicode mapping (a Chinese or ` +
          'Japanese font not embedded in the file, for example), so the text cannot be read; ' +
          'export it again as PDF with embedded fonts, or upload it as .docx or .txt',
      );
    }
    if (chars === 0) {
      throw new DocumentParseError(
        `"${input.name}" has no text layer (it looks like a scanned or image-only PDF); ` +
          'text recognition (OCR) is not supported',
      );
    }
  } finally {
    await pdf.destroy().catch(() => undefined);
  }
}

// pdf.js operator ids (OPS) of the four text-showing operators: Tj, TJ, ' and ".
const SHOW_TEXT_OPS = new Set([44, 45, 46, 47]);

/**
 * Whether the first pages draw text at all. Called only when no text came out, to tell a scanned
 * PDF from one whose fonts pdf.js cannot map to Unicode (non-embedded CJK fonts need character
 * maps that are not installed). A few pages only: building operator lists decodes images.
 */
async function drawsText(
  pdf: { numPages: number; getPage(n: number): Promise<PdfPage> },
  signal?: AbortSignal,
): Promise<boolean> {
  for (let n = 1; n <= Math.min(pdf.numPages, 3); n++) {
    signal?.throwIfAborted();
    try {
      const page = await pdf.getPage(n);
      const ops = await page.getOperatorList();
      page.cleanup();
      if (ops.fnArray.some((op) => SHOW_TEXT_OPS.has(op))) return true;
    } catch {
      return false;
    }
  }
  return false;
}

interface PdfPage {
  getOperatorList(): Promise<{ fnArray: number[] }>;
  cleanup(): unknown;
}

function pdfError(name: string, err: unknown): DocumentParseError {
  if (err instanceof DocumentParseError) return err;
  const e = err as { name?: string; message?: string };
  const why =
    e?.name === 'PasswordException'
      ? 'it is password-protected'
      : (e?.message ?? String(err)).replace(/\.$/, '');
  return new DocumentParseError(`"${name}" could not be read as a PDF (${why})`);
}

async function parseDocx(input: ParseInput, sink: TextSink, opts: ParseOptions): Promise<void> {
  await assertZipWithinLimits(input.bytes, input.name, zipLimits(opts), opts.signal);
  let html: string;
  try {
    const mammoth = mammothLib();
    const result = await mammoth.convertToHtml(
      { buffer: input.bytes },
      {
        // Images are dropped unread (mammoth would inline them as base64).
        convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })),
        externalFileAccess: false,
      },
    );
    html = result.value;
  } catch (err) {
    throw new DocumentParseError(
      `"${input.name}" could not be read as a Word document (${(err as Error).message})`,
    );
  }
  opts.signal?.throwIfAborted();
  sink.add(htmlToMarkdown(html));
}

async function parseDoc(input: ParseInput, sink: TextSink): Promise<void> {
  assertOleSane(input.bytes, input.name);
  let doc: WordExtractor.Document;
  try {
    const Extractor = wordExtractor();
    doc = await new Extractor().extract(input.bytes);
  } catch (err) {
    throw new DocumentParseError(
      `"${input.name}" could not be read as a Word 97-2003 document (${(err as Error).message})`,
    );
  }
  for (const part of [
    doc.getBody(),
    doc.getTextboxes({ includeBody: true, includeHeadersAndFooters: false }),
    doc.getFootnotes(),
    doc.getEndnotes(),
  ]) {
    const text = part.trim();
    if (text) sink.add(text);
  }
}

function zipLimits(opts: ParseOptions): typeof DEFAULT_ZIP_LIMITS {
  return {
    maxEntries: DEFAULT_ZIP_LIMITS.maxEntries,
    maxUnzippedBytes: opts.maxUnzippedBytes ?? DEFAULT_ZIP_LIMITS.maxUnzippedBytes,
  };
}

/** A row as "header: value; header: value", empty cells left out, on one line. */
function rowLine(headers: string[], cells: string[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cells.length; i++) {
    const value = cells[i].replace(/\s*[\r\n]+\s*/g, ' ').trim();
    if (!value) continue;
    parts.push(`${headers[i] || `Column ${i + 1}`}: ${value}`);
  }
  return parts.join('; ');
}

function headerNames(cells: string[]): string[] {
  return cells.map((c, i) => c.replace(/\s*[\r\n]+\s*/g, ' ').trim() || `Column ${i + 1}`);
}

/** The delimiter (, ; or tab) that splits the first lines most consistently. */
export function detectDelimiter(text: string): string {
  const lines = text
    .slice(0, 64 * 1024)
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .slice(0, 20)
    // Quoted fields may hold any delimiter; count outside them only.
    .map((l) => l.replace(/"[^"]*"/g, '""'));
  let best = ',';
  let bestScore = 0;
  for (const d of [',', ';', '\t']) {
    const counts = lines.map((l) => l.split(d).length - 1);
    const first = counts[0] ?? 0;
    if (first === 0) continue;
    const consistent = counts.filter((c) => c === first).length / counts.length;
    const score = consistent * 1000 + first;
    if (score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  return best;
}

async function parseCsvRows(input: ParseInput, sink: TextSink): Promise<void> {
  const text = decodeText(input.bytes);
  const parser = csvParse().parse(text, {
    delimiter: detectDelimiter(text),
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
  });
  let headers: string[] | undefined;
  let rows = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (!headers) {
        headers = headerNames(record);
        continue;
      }
      const line = rowLine(headers, record);
      if (!line) continue;
      sink.add(line);
      rows++;
    }
  } catch (err) {
    if (err instanceof DocumentParseError || isAbort(err)) throw err;
    throw new DocumentParseError(
      `"${input.name}" could not be read as CSV (${(err as Error).message})`,
    );
  } finally {
    parser.destroy();
  }
  // A file of one row: that row is all there is.
  if (headers && rows === 0) sink.add(headers.join('; '));
}

function isAbort(err: unknown): boolean {
  return (err as Error)?.name === 'AbortError';
}

async function parseXlsx(input: ParseInput, sink: TextSink, opts: ParseOptions): Promise<void> {
  await assertZipWithinLimits(input.bytes, input.name, zipLimits(opts), opts.signal);
  const workbook = new (excel().Workbook)();
  try {
    // exceljs types its input as its own Buffer interface; JSZip underneath takes a Node Buffer.
    await workbook.xlsx.load(input.bytes as unknown as ExcelJS.Buffer);
  } catch (err) {
    throw new DocumentParseError(
      `"${input.name}" could not be read as an Excel workbook (${(err as Error).message})`,
    );
  }
  if (workbook.worksheets.length === 0) {
    throw new DocumentParseError(
      `"${input.name}" could not be read as an Excel workbook (it has no worksheets)`,
    );
  }
  let first = true;
  for (const sheet of workbook.worksheets) {
    let headers: string[] | undefined;
    let wroteName = false;
    // eachRow visits only rows that exist (a lone cell far down does not cost a million empty
    // rows); the sink's throw (too much text, or aborted) leaves it early.
    sheet.eachRow((row) => {
      const cells: string[] = [];
      row.eachCell((cell, col) => {
        cells[col - 1] = cellText(cell.value);
      });
      for (let c = 0; c < cells.length; c++) cells[c] ??= '';
      if (!headers) {
        headers = headerNames(cells);
        return;
      }
      const line = rowLine(headers, cells);
      if (!line) return;
      if (!wroteName) {
        // The sheet's name heads its rows, a blank line apart from the previous sheet.
        sink.add(`${first ? '' : '\n'}# ${sheet.name}`);
        wroteName = true;
        first = false;
      }
      sink.add(line);
    });
    if (headers && !wroteName && headers.some((h, i) => h !== `Column ${i + 1}`)) {
      sink.add(`${first ? '' : '\n'}# ${sheet.name}`);
      sink.add(headers.join('; '));
      first = false;
    }
  }
}

function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) {
    const iso = value.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.slice(0, 19).replace('T', ' ');
  }
  if (typeof value !== 'object') return String(value);
  if ('richText' in value) return value.richText.map((t) => t.text).join('');
  if ('hyperlink' in value) return cellText(value.text);
  if ('error' in value) return value.error;
  if ('result' in value) return cellText(value.result);
  return '';
}
