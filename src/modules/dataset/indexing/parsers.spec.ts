import {
  buildDoc,
  buildZip,
  docxEntries,
  encryptedPdf,
  flatePdf,
  scannedPdf,
  textPdf,
  unmappedCjkPdf,
} from '@test/support/document-fixtures';
import ExcelJS from 'exceljs';
import { detectDelimiter, parseDocument } from './parsers';
import { DocumentParseError, type ParseOptions } from './pipeline.types';

const parse = (
  bytes: Buffer | string,
  extension: string,
  opts?: ParseOptions,
  name = `file.${extension}`,
): Promise<string> =>
  parseDocument(
    { bytes: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), extension, name },
    opts,
  );

/** Asserts a DocumentParseError whose message matches. */
async function expectParseError(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const err: unknown = await promise.then(
    () => new Error('expected a DocumentParseError'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DocumentParseError);
  expect((err as Error).message).toMatch(message);
}

/** A signal that aborts after `checks` calls of throwIfAborted: aborts mid-document. */
function abortAfter(checks: number): AbortSignal {
  const controller = new AbortController();
  const signal = controller.signal;
  const original = signal.throwIfAborted.bind(signal);
  let n = 0;
  signal.throwIfAborted = () => {
    if (++n > checks) controller.abort();
    original();
  };
  return signal;
}

async function workbook(): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const products = wb.addWorksheet('产品 Products');
  products.addRow(['名称 Name', 'Price', 'Date', 'Link', 'Formula']);
  products.addRow([
    '苹果 Apple',
    5,
    new Date(Date.UTC(2024, 0, 2)),
    { text: 'site', hyperlink: 'http://example.com' },
    { formula: 'B2*2', result: 10 },
  ]);
  products.addRow(['香蕉 Banana', 3.5]);
  products.addRow([]);
  products.addRow(['Multi\nline', { richText: [{ text: 'rich ' }, { text: 'text' }] }]);
  wb.addWorksheet('Empty');
  wb.addWorksheet('Staff').addRows([
    ['Name', 'Role'],
    ['张三', 'engineer'],
  ]);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

describe('parseDocument', () => {
  describe('plain text', () => {
    it('reads UTF-8 text and Markdown as is, without the BOM', async () => {
      const md = '# 标题 Title\n\n知识库 knowledge base\r\n- item';
      expect(
        await parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(md)]), 'md'),
      ).toBe(md);
      expect(await parse(md, 'markdown')).toBe(md);
      expect(await parse('plain 文本', 'TXT')).toBe('plain 文本');
    });

    it('reads GB18030 (GBK) text that is not UTF-8', async () => {
      const gbk = Buffer.from([0xd6, 0xd0, 0xce, 0xc4, 0x20, 0x61, 0x62, 0x63]);
      expect(await parse(gbk, 'txt')).toBe('中文 abc');
    });

    it('refuses a file with no text', async () => {
      await expectParseError(
        parse(' \n\t', 'txt', {}, 'blank.txt'),
        /^"blank.txt" contains no text$/,
      );
    });
  });

  describe('json', () => {
    it('renders values as indented key: value text', async () => {
      const json = {
        name: '知识库',
        tags: ['a', 'b'],
        nested: { x: 1, y: null, items: [{ k: 'v', k2: 'line\nbreak' }, [1, 2]] },
        empty: {},
      };
      expect(await parse(JSON.stringify(json), 'json')).toBe(
        [
          'name: 知识库',
          'tags:',
          '  - a',
          '  - b',
          'nested:',
          '  x: 1',
          '  y: null',
          '  items:',
          '    - k: v',
          '      k2: line break',
          '    -',
          '      - 1',
          '      - 2',
        ].join('\n'),
      );
    });

    it('refuses invalid JSON', async () => {
      await expectParseError(
        parse('{"a": ', 'json', {}, 'x.json'),
        /^"x.json" is not valid JSON \(/,
      );
    });
  });

  describe('pdf', () => {
    it('extracts English and Chinese (ToUnicode) text, pages a blank line apart', async () => {
      const bytes = textPdf();
      expect(await parse(bytes, 'pdf')).toBe(
        'Hello PDF world\nSecond line here\n知识库\n\nPage two text',
      );
      // The caller's buffer is not handed over (detached) to pdf.js.
      expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    });

    it('explains that a scanned PDF has no text layer', async () => {
      await expectParseError(
        parse(scannedPdf(), 'pdf', {}, 'scan.pdf'),
        /^"scan.pdf" has no text layer .*OCR\) is not supported$/,
      );
    });

    it('tells text it cannot decode apart from a missing text layer', async () => {
      await expectParseError(
        parse(unmappedCjkPdf(), 'pdf', {}, 'gb.pdf'),
        /^"gb.pdf" draws its text with fonts that carry no Unicode mapping/,
      );
    });

    it('refuses encrypted, corrupt and truncated PDFs', async () => {
      await expectParseError(
        parse(encryptedPdf(), 'pdf', {}, 'secret.pdf'),
        /^"secret.pdf" could not be read as a PDF \(it is password-protected\)$/,
      );
      await expectParseError(
        parse('%PDF-1.4\nnot a pdf at all', 'pdf', {}, 'bad.pdf'),
        /^"bad.pdf" could not be read as a PDF \(.+\)$/,
      );
      await expectParseError(
        parse(textPdf().subarray(0, 300), 'pdf', {}, 'cut.pdf'),
        /^"cut.pdf" could not be read as a PDF \(.+\)$/,
      );
    });

    it('reads deflated content and refuses a deflate bomb before pdf.js inflates it', async () => {
      const text = 'BT /F1 12 Tf 72 720 Td (Compressed page) Tj ET\n';
      expect(await parse(flatePdf(text), 'pdf')).toBe('Compressed page');
      const bomb = flatePdf(text + '%'.repeat(3 << 20));
      expect(bomb.length).toBeLessThan(64 * 1024);
      await expectParseError(
        parse(bomb, 'pdf', { maxUnzippedBytes: 1 << 20 }, 'bomb.pdf'),
        /^"bomb.pdf" unpacks to more than 1 MB of page data/,
      );
    });

    it('stops at maxChars and on abort between pages', async () => {
      await expectParseError(parse(textPdf(), 'pdf', { maxChars: 20 }), /more than 20 characters/);
      await expect(parse(textPdf(), 'pdf', { signal: abortAfter(2) })).rejects.toMatchObject({
        name: 'AbortError',
      });
    });
  });

  describe('docx', () => {
    it('keeps headings, lists and tables readable as Markdown', async () => {
      const text = await parse(buildZip(docxEntries()), 'docx');
      expect(text).toBe(
        [
          '# 产品手册 Product Guide',
          '',
          '知识库支持全文检索。The knowledge base supports full-text search.',
          '',
          '-   第一项 first item',
          '-   第二项 second item',
          '',
          '| 名称 Name | 价格 Price |',
          '| 苹果 Apple | 5 |',
        ].join('\n'),
      );
    });

    it('refuses a file that is not a Word archive', async () => {
      await expectParseError(
        parse('PK\u0003\u0004 garbage', 'docx', {}, 'bad.docx'),
        /^"bad.docx" is not a valid document archive/,
      );
      const noDocument = buildZip(docxEntries().filter((e) => e.name !== 'word/document.xml'));
      await expectParseError(
        parse(noDocument, 'docx', {}, 'empty.docx'),
        /^"empty.docx" could not be read as a Word document \(/,
      );
    });

    it('refuses a zip bomb by its declared sizes before inflating', async () => {
      const bomb = buildZip(docxEntries(`<w:p><w:r><w:t>${'A'.repeat(3 << 20)}</w:t></w:r></w:p>`));
      expect(bomb.length).toBeLessThan(64 * 1024);
      await expectParseError(
        parse(bomb, 'docx', { maxUnzippedBytes: 1 << 20 }, 'bomb.docx'),
        /^"bomb.docx" unpacks to more than 1 MB/,
      );
    });

    it('refuses a zip bomb that lies about its sizes', async () => {
      const entries = docxEntries(`<w:p><w:r><w:t>${'A'.repeat(3 << 20)}</w:t></w:r></w:p>`);
      // Only the document lies; the declared total is tiny.
      const liar = buildZip(
        entries.map((e) => (e.name === 'word/document.xml' ? { ...e, declaredSize: 100 } : e)),
      );
      await expectParseError(
        parse(liar, 'docx', { maxUnzippedBytes: 1 << 20 }, 'liar.docx'),
        /^"liar.docx" unpacks to more than 1 MB/,
      );
    });

    it('refuses an archive with too many parts', async () => {
      const many = buildZip([
        ...docxEntries(),
        ...Array.from({ length: 10_001 }, (_, i) => ({ name: `x/${i}`, data: '' })),
      ]);
      await expectParseError(parse(many, 'docx', {}, 'many.docx'), /too many parts \(10007/);
    });
  });

  describe('doc', () => {
    it('reads the text of a Word 97-2003 document', async () => {
      const doc = buildDoc('旧版文档 Legacy document\n第二段 second paragraph\n');
      expect(await parse(doc, 'doc')).toBe('旧版文档 Legacy document\n第二段 second paragraph');
    });

    it('refuses a file that is not a Word 97-2003 document', async () => {
      await expectParseError(
        parse('not an OLE file', 'doc', {}, 'old.doc'),
        /^"old.doc" could not be read as a Word 97-2003 document \(it is not an OLE compound file\)$/,
      );
      // An OLE file without a WordDocument stream: word-extractor's own error.
      const other = buildDoc('x');
      other.write('Other', 128 * 1 + 512 * 2, 'utf16le');
      await expectParseError(
        parse(other, 'doc', {}, 'other.doc'),
        /^"other.doc" could not be read as a Word 97-2003 document \(.+\)$/,
      );
    });

    // word-extractor follows a looping chain forever (the process dies out of memory).
    it('refuses a file whose sector chains loop, before word-extractor reads it', async () => {
      await expectParseError(
        parse(buildDoc('x', { loop: true }), 'doc', {}, 'loop.doc'),
        /^"loop.doc" could not be read as a Word 97-2003 document \(its sector chains loop\)$/,
      );
      const claims = buildDoc('x');
      claims.writeInt32LE(1 << 20, 0x2c); // a million FAT sectors in a 10 KB file
      await expectParseError(
        parse(claims, 'doc', {}, 'claims.doc'),
        /\(its header claims more sectors than it has\)$/,
      );
    });
  });

  describe('html', () => {
    it('drops scripts, styles and navigation and converts the rest to Markdown', async () => {
      const html = `<!doctype html><html><head><title>页面 Page</title><style>p{color:red}</style>
        <script>var secret = 1;</script></head><body>
        <nav><a href="/">Home</a> | <a href="/about">About</a></nav>
        <h2>标题 Heading</h2>
        <p>Hello <b>world</b>, 1. not a list, snake_case <a href="https://x.io">a link</a>.</p>
        <ul><li>one 一</li><li>two 二</li></ul>
        <table><thead><tr><th>A</th><th>B</th></tr></thead><tbody><tr><td>1</td><td>2<br>3</td></tr></tbody></table>
        <img src="x.png" alt="picture"><noscript>enable js</noscript><button>Click</button>
        <script>alert(1)</script></body></html>`;
      expect(await parse(html, 'html')).toBe(
        [
          '# 页面 Page',
          '',
          '## 标题 Heading',
          '',
          'Hello **world**, 1. not a list, snake_case a link.',
          '',
          '-   one 一',
          '-   two 二',
          '',
          '| A | B |',
          '| 1 | 2 3 |',
        ].join('\n'),
      );
    });

    it('honours a non-UTF-8 <meta charset>', async () => {
      const head = Buffer.from('<html><head><meta charset="gbk"></head><body><p>');
      const body = Buffer.from([0xd6, 0xd0, 0xce, 0xc4]);
      const tail = Buffer.from('</p></body></html>');
      expect(await parse(Buffer.concat([head, body, tail]), 'htm')).toBe('中文');
    });
  });

  describe('csv', () => {
    it('writes each row as "header: value; ..." on its own line', async () => {
      const csv = '名称,价格,备注\n苹果 Apple,5,"red, sweet"\n香蕉,3,\n,,\n"multi\nline",7,x\n';
      expect(await parse(csv, 'csv')).toBe(
        [
          '名称: 苹果 Apple; 价格: 5; 备注: red, sweet',
          '名称: 香蕉; 价格: 3',
          '名称: multi line; 价格: 7; 备注: x',
        ].join('\n'),
      );
    });

    it('detects ; and tab delimiters', async () => {
      expect(await parse('a;b\n1;"x;y"\n', 'csv')).toBe('a: 1; b: x;y');
      expect(await parse('a\tb\n1,5\t2\n', 'csv')).toBe('a: 1,5; b: 2');
      expect(detectDelimiter('"a,b";c;d\n"1,2";3;4\n')).toBe(';');
      expect(detectDelimiter('single column\nrow')).toBe(',');
    });

    it('names missing headers and keeps extra cells', async () => {
      expect(await parse('a,,c\n1,2,3,4\n', 'csv')).toBe('a: 1; Column 2: 2; c: 3; Column 4: 4');
      expect(await parse('only,a,header\n', 'csv')).toBe('only; a; header');
    });

    it('stops at maxChars and on abort, row by row', async () => {
      const big = 'n,text\n' + Array.from({ length: 5000 }, (_, i) => `${i},row ${i}`).join('\n');
      await expectParseError(parse(big, 'csv', { maxChars: 1000 }), /more than 1,000 characters/);
      await expect(parse(big, 'csv', { signal: abortAfter(10) })).rejects.toMatchObject({
        name: 'AbortError',
      });
    });
  });

  describe('xlsx', () => {
    it('reads every sheet, rows as in CSV under the sheet name', async () => {
      expect(await parse(await workbook(), 'xlsx')).toBe(
        [
          '# 产品 Products',
          '名称 Name: 苹果 Apple; Price: 5; Date: 2024-01-02; Link: site; Formula: 10',
          '名称 Name: 香蕉 Banana; Price: 3.5',
          '名称 Name: Multi line; Price: rich text',
          '',
          '# Staff',
          'Name: 张三; Role: engineer',
        ].join('\n'),
      );
    });

    it('skips rows that do not exist (a lone cell far down) and aligns cells by column', async () => {
      const wb = new ExcelJS.Workbook();
      const sheet = wb.addWorksheet('Sparse');
      sheet.getCell('A1').value = 'Key';
      sheet.getCell('C1').value = 'Value';
      sheet.getCell('C200000').value = 'far away';
      const started = performance.now();
      expect(await parse(Buffer.from(await wb.xlsx.writeBuffer()), 'xlsx')).toBe(
        '# Sparse\nValue: far away',
      );
      expect(performance.now() - started).toBeLessThan(2000);
    });

    it('refuses a corrupt workbook and a zip bomb', async () => {
      const notXlsx = buildZip([{ name: 'hello.txt', data: 'hi' }]);
      await expectParseError(
        parse(notXlsx, 'xlsx', {}, 'bad.xlsx'),
        /^"bad.xlsx" could not be read as an Excel workbook \(/,
      );
      await expectParseError(
        parse(await workbook(), 'xlsx', { maxUnzippedBytes: 1000 }, 'big.xlsx'),
        /^"big.xlsx" unpacks to more than/,
      );
    });

    it('stops at maxChars and on abort', async () => {
      await expectParseError(parse(await workbook(), 'xlsx', { maxChars: 50 }), /more than 50/);
      const signal = abortAfter(3);
      await expect(parse(await workbook(), 'xlsx', { signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
    });
  });

  it('refuses .xls, saying to save it as .xlsx', async () => {
    await expectParseError(
      parse(Buffer.from([0xd0, 0xcf, 0x11, 0xe0]), 'xls', {}, 'old.xls'),
      /^"old.xls" is an Excel 97-2003 workbook.*save it as .xlsx/,
    );
  });

  it('refuses an unknown extension', async () => {
    await expectParseError(
      parse('x', 'exe', {}, 'a.exe'),
      /^"a.exe": .exe files are not supported$/,
    );
  });

  it('rejects with the abort reason when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    for (const ext of ['txt', 'pdf', 'docx', 'csv', 'xlsx']) {
      await expect(parse('x', ext, { signal: controller.signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
    }
  });
});
