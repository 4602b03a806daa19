/**
 * Documents written by hand for the text pipeline's tests (and the indexing job's): PDFs with a
 * text layer (English, and Chinese through a ToUnicode CMap), image-only and encrypted PDFs, and
 * zips (docx parts) that may lie about their sizes.
 */
import { crc32, deflateRawSync, deflateSync } from 'node:zlib';

/** A PDF from object bodies (1-based ids in order), with a correct xref table. */
export function buildPdf(objects: string[], trailerExtra = ''): Buffer {
  let out = '%PDF-1.4\n%\xE2\xE3\xCF\xD3\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${trailerExtra}>>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

export const stream = (data: string): string =>
  `<< /Length ${Buffer.byteLength(data, 'latin1')} >>\nstream\n${data}\nendstream`;

const TO_UNICODE = `/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
3 beginbfchar
<0001> <77E5>
<0002> <8BC6>
<0003> <5E93>
endbfchar
endcmap
CMapName currentdict /CMap defineresource pop
end
end`;

/** Two pages: English (Helvetica) and Chinese (a Type0 font with a ToUnicode CMap), then English. */
export function textPdf(trailerExtra = '', extraObjects: string[] = []): Buffer {
  return buildPdf(
    [
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>',
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 7 0 R >>',
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 8 0 R >>',
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
      '<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H /DescendantFonts [9 0 R] /ToUnicode 10 0 R >>',
      stream(
        'BT /F1 24 Tf 72 720 Td (Hello PDF world) Tj 0 -30 Td (Second line here) Tj ET\n' +
          'BT /F2 24 Tf 72 600 Td <000100020003> Tj ET',
      ),
      stream('BT /F1 12 Tf 72 720 Td (Page two text) Tj ET'),
      '<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 11 0 R /DW 1000 >>',
      stream(TO_UNICODE),
      '<< /Type /FontDescriptor /FontName /SimSun /Flags 4 /FontBBox [0 -140 1000 860] /ItalicAngle 0 /Ascent 860 /Descent -140 /CapHeight 700 /StemV 80 >>',
      ...extraObjects,
    ],
    trailerExtra,
  );
}

export function scannedPdf(): Buffer {
  return buildPdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>',
    stream('0 0 1 rg 72 72 400 600 re f'),
  ]);
}

export function encryptedPdf(): Buffer {
  const hex = (n: number, seed: number): string =>
    Array.from({ length: n }, (_, i) => ((i * 37 + seed) % 256).toString(16).padStart(2, '0')).join(
      '',
    );
  return textPdf(`/Encrypt 12 0 R /ID [<${hex(16, 1)}> <${hex(16, 1)}>] `, [
    `<< /Filter /Standard /V 1 /R 2 /O <${hex(32, 3)}> /U <${hex(32, 5)}> /P -4 >>`,
  ]);
}

export interface ZipEntry {
  name: string;
  data: Buffer | string;
  /** Write this as the unpacked size instead of the real one (a lying archive). */
  declaredSize?: number;
}

/** A zip (deflate) written by hand, so a test can make it lie about sizes. */
export function buildZip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  // Many identical small parts (a test of the entry limit) deflate once.
  const packedText = new Map<string, Buffer>();
  for (const e of entries) {
    const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data, 'utf8');
    let packed = typeof e.data === 'string' ? packedText.get(e.data) : undefined;
    if (!packed) {
      packed = deflateRawSync(data);
      if (typeof e.data === 'string' && e.data.length < 64) packedText.set(e.data, packed);
    }
    const name = Buffer.from(e.name, 'utf8');
    const size = e.declaredSize ?? data.length;
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    centrals.push(central, name);
    offset += 30 + name.length + packed.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';
const para = (text: string, style?: string, num?: boolean): string =>
  `<w:p><w:pPr>${style ? `<w:pStyle w:val="${style}"/>` : ''}${
    num ? '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>' : ''
  }</w:pPr><w:r><w:t xml:space="preserve">${text}</w:t></w:r></w:p>`;
const cell = (text: string): string => `<w:tc>${para(text)}</w:tc>`;

/** docx parts: a heading, paragraphs, a bulleted list and a table, in Chinese and English. */
export function docxEntries(body?: string): ZipEntry[] {
  const document =
    body ??
    [
      para('产品手册 Product Guide', 'Heading1'),
      para('知识库支持全文检索。The knowledge base supports full-text search.'),
      para('第一项 first item', undefined, true),
      para('第二项 second item', undefined, true),
      `<w:tbl><w:tr>${cell('名称 Name')}${cell('价格 Price')}</w:tr><w:tr>${cell('苹果 Apple')}${cell('5')}</w:tr></w:tbl>`,
    ].join('');
  return [
    {
      name: '[Content_Types].xml',
      data:
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
        '<Default Extension="xml" ContentType="application/xml"/>' +
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>' +
        '</Types>',
    },
    {
      name: '_rels/.rels',
      data:
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>' +
        '</Relationships>',
    },
    {
      name: 'word/_rels/document.xml.rels',
      data:
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>' +
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering" Target="numbering.xml"/>' +
        '</Relationships>',
    },
    {
      name: 'word/styles.xml',
      data: `<?xml version="1.0" encoding="UTF-8"?><w:styles ${W}><w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>`,
    },
    {
      name: 'word/numbering.xml',
      data: `<?xml version="1.0" encoding="UTF-8"?><w:numbering ${W}><w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/></w:lvl></w:abstractNum><w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num></w:numbering>`,
    },
    {
      name: 'word/document.xml',
      data: `<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body>${document}</w:body></w:document>`,
    },
  ];
}

/**
 * A Word 97-2003 .doc: an OLE compound file (512-byte sectors: FAT, directory, then the
 * WordDocument and 1Table streams, each padded to 4096 bytes so neither lives in the mini
 * stream) whose FIB points at one Unicode piece of text. `loop` makes the WordDocument chain
 * point back on itself two sectors later (a malicious file).
 */
export function buildDoc(text: string, opts: { loop?: boolean } = {}): Buffer {
  const END = -2;
  const FREE = -1;
  const FATSECT = -3;
  const body = Buffer.from(text.replace(/\n/g, '\r'), 'utf16le');
  const TEXT_AT = 0x800;
  const word = Buffer.alloc(Math.max(4096, TEXT_AT + body.length + 512));
  word.writeUInt16LE(0xa5ec, 0); // wIdent
  word.writeUInt16LE(0x0200, 0x0a); // fWhichTblStm: the table stream is "1Table"
  word.writeUInt32LE(TEXT_AT, 0x18); // fcMin
  word.writeUInt32LE(text.length, 0x4c); // ccpText
  word.writeUInt32LE(0, 0x1a2); // fcClx: the piece table starts the table stream
  body.copy(word, TEXT_AT);
  const table = Buffer.alloc(4096);
  table.writeUInt8(2, 0); // Pcdt
  table.writeUInt32LE(16, 1); // lcb: two CPs and one 8-byte piece descriptor
  table.writeUInt32LE(0, 5);
  table.writeUInt32LE(text.length, 9);
  table.writeUInt32LE(TEXT_AT, 13 + 2); // fc, without the "compressed" bit: UTF-16
  const wordSectors = Math.ceil(word.length / 512);
  const tableSectors = table.length / 512;

  const fat = new Int32Array(128).fill(FREE);
  fat[0] = FATSECT;
  fat[1] = END;
  const chain = (first: number, count: number): void => {
    for (let i = 0; i < count; i++) fat[first + i] = i === count - 1 ? END : first + i + 1;
  };
  chain(2, wordSectors);
  chain(2 + wordSectors, tableSectors);
  if (opts.loop) fat[4] = 2;

  const header = Buffer.alloc(512);
  Buffer.from('d0cf11e0a1b11ae1', 'hex').copy(header, 0);
  header.writeUInt16LE(0x3e, 0x18);
  header.writeUInt16LE(3, 0x1a);
  header.writeUInt16LE(0xfffe, 0x1c);
  header.writeUInt16LE(9, 0x1e);
  header.writeUInt16LE(6, 0x20);
  header.writeInt32LE(1, 0x2c); // one FAT sector
  header.writeInt32LE(1, 0x30); // directory at sector 1
  header.writeUInt32LE(4096, 0x38); // mini stream cutoff
  header.writeInt32LE(END, 0x3c); // no mini FAT
  header.writeInt32LE(0, 0x40);
  header.writeInt32LE(END, 0x44); // no DIFAT sectors
  header.writeInt32LE(0, 0x48);
  for (let i = 0; i < 109; i++) header.writeInt32LE(i === 0 ? 0 : FREE, 0x4c + i * 4);

  const entry = (
    name: string,
    type: number,
    links: { left?: number; right?: number; child?: number },
    start: number,
    size: number,
  ): Buffer => {
    const e = Buffer.alloc(128);
    if (name) {
      e.write(name, 0, 'utf16le');
      e.writeUInt16LE((name.length + 1) * 2, 0x40);
    }
    e.writeUInt8(type, 0x42);
    e.writeUInt8(1, 0x43);
    e.writeInt32LE(links.left ?? FREE, 0x44);
    e.writeInt32LE(links.right ?? FREE, 0x48);
    e.writeInt32LE(links.child ?? FREE, 0x4c);
    e.writeInt32LE(start, 0x74);
    e.writeUInt32LE(size, 0x78);
    return e;
  };
  const directory = Buffer.concat([
    entry('Root Entry', 5, { child: 1 }, END, 0),
    entry('WordDocument', 2, { left: 2 }, 2, word.length),
    entry('1Table', 2, {}, 2 + wordSectors, table.length),
    entry('', 0, {}, FREE, 0),
  ]);
  const fatSector = Buffer.alloc(512);
  fat.forEach((v, i) => fatSector.writeInt32LE(v, i * 4));
  const pad = (b: Buffer): Buffer =>
    Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
  return Buffer.concat([header, fatSector, directory, pad(word), table]);
}

/**
 * A PDF drawing Chinese with a non-embedded font through a predefined CMap (UniGB-UCS2-H) and no
 * ToUnicode: readers need Adobe's character maps, which pdf.js here does not have.
 */
export function unmappedCjkPdf(): Buffer {
  return buildPdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>',
    stream('BT /F1 24 Tf 72 720 Td <77E58BC6> Tj ET'),
    '<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>',
    '<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 7 0 R >>',
    '<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>',
  ]);
}

/** One page whose content stream is deflated (FlateDecode): `content` is the raw operators. */
export function flatePdf(content: string): Buffer {
  const packed = deflateSync(Buffer.from(content, 'latin1')).toString('latin1');
  return buildPdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>',
    `<< /Length ${packed.length} /Filter /FlateDecode >>\nstream\n${packed}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ]);
}

/**
 * A document's `process_type: 'custom'` body part: extra spaces removed, segments of at most 100
 * characters cut at `separators` with no overlap.
 */
export function smallSegments(opts: { separators: string[]; removeUrls: boolean }) {
  return {
    process_type: 'custom',
    rule: {
      pre_process_rules: [
        { id: 'remove_extra_space', enabled: true },
        { id: 'remove_url_and_email', enabled: opts.removeUrls },
      ],
      segment: { separators: opts.separators, chunk_size: 100, chunk_overlap: 0 },
    },
  };
}
